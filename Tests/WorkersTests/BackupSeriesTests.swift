import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `BackupSeries`: one warehouse's backup names, their order, rotation and stale `.partial` files.
@Suite(.timeLimit(.minutes(1))) struct BackupSeriesTests {
    /// 2024-01-01 00:00:00.000 UTC in Unix milliseconds.
    static let newYear: Int64 = 1_704_067_200_000

    static func touch(_ directory: String, _ names: [String], contents: String = "") {
        for name in names { _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(contents.utf8)) }
    }

    static func listing(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    @Test func namesCarryTheWarehouseTheKindAndTheMillisecond() {
        let series = BackupSeries(warehouse: "database/industrial_dwh.sqlite", kind: "pre-train", in: "database/backups")
        #expect(series.directory == "database/backups")
        #expect(series.name(atMilliseconds: Self.newYear + 45_296_007) == "industrial_dwh-pre-train-20240101-123456-007.sqlite")
        #expect(series.name(atMilliseconds: Self.newYear, attempt: 2) == "industrial_dwh-pre-train-20240101-000000-000-2.sqlite")
        #expect(series.path(of: "x.sqlite") == "database/backups/x.sqlite")
        // Before 1970 the millisecond still counts up within its second.
        #expect(BackupSeries(warehouse: "a.sqlite", kind: "k", in: ".").name(atMilliseconds: -1) == "a-k-19691231-235959-999.sqlite")
        #expect(Warehouse.backupStem(of: "/data/a.b.sqlite") == "a.b")
        #expect(Warehouse.backupStem(of: "plain") == "plain")

        let copies = BackupSeries(safetyCopiesOf: "/data/dwh.sqlite")
        #expect(copies.directory == "/data")
        #expect(copies.name(atMilliseconds: Self.newYear + 1) == "dwh.sqlite.before-restore-20240101-000000-001")
        #expect(BackupSeries(safetyCopiesOf: "dwh.sqlite").directory == ".")
    }

    @Test func onlyThisWarehousesStrictNamesBelongToItsSeries() {
        let a = BackupSeries(warehouse: "a.sqlite", kind: "pre-train", in: "/b")
        #expect(a.contains("a-pre-train-20240101-000000-000.sqlite"))
        #expect(a.contains("a-pre-train-20240101-000000-000-1.sqlite"))
        #expect(a.contains("a-pre-train-20240101-000000-000-12.sqlite"))
        for name in [
            "a-pre-train-x-pre-train-20240101-000000-000.sqlite",  // warehouse `a-pre-train-x`'s
            "a-pre-train-20240101-000000-000-pre-train-20240102-000000-000.sqlite",  // warehouse `a-pre-train-20240101-000000-000`'s
            "ab-pre-train-20240101-000000-000.sqlite", "pre-train-20240101-000000.sqlite",  // another's; the old shared name
            "a-pre-train-20240101-000000.sqlite",  // no milliseconds
            "a-pre-train-20240101-000000-000.sqlite.partial", "a-pre-train-20240101-000000-000.sqlite-wal",
            "a-pre-train-20240101-000000-000-0.sqlite", "a-pre-train-20240101-000000-000-01.sqlite",  // N from 1, no leading zero
            "a-pre-train-20240101-000000-00.sqlite", "a-pre-train-2024010-1000000-000.sqlite", "a-pre-train-20240101-000000-000-.sqlite",
            "a-pre-train-20240101-000000-000-1x.sqlite", "a-pre-train-.sqlite",
        ] {
            #expect(!a.contains(name), "\(name)")
        }
        let copies = BackupSeries(safetyCopiesOf: "/d/dwh.sqlite")
        #expect(copies.contains("dwh.sqlite.before-restore-20240101-000000"))  // named before milliseconds
        #expect(copies.contains("dwh.sqlite.before-restore-20240101-000000-000-3"))
        #expect(!copies.contains("dwh.sqlite.before-restore-20240101-000000-000-wal"))
        #expect(!copies.contains("dwh.sqlite.before-restore-test"))
    }

    @Test func rotationKeepsTheNewestOfItsOwnAndNothingElse() throws {
        try withTemporaryDirectory { directory throws in
            let series = BackupSeries(warehouse: "dwh.sqlite", kind: "pre-train", in: directory)
            // In the order they were made: `-1` after its plain name, `-2` after `-1`, `-10` after `-2`.
            let made = [
                series.name(atMilliseconds: Self.newYear), series.name(atMilliseconds: Self.newYear, attempt: 1),
                series.name(atMilliseconds: Self.newYear, attempt: 2), series.name(atMilliseconds: Self.newYear, attempt: 10),
                series.name(atMilliseconds: Self.newYear + 1), series.name(atMilliseconds: Self.newYear + 86_400_000),
            ]
            let others = ["dwh-pre-train-x-pre-train-20240101-000000-000.sqlite", "other-pre-train-20240101-000000-000.sqlite",
                          "pre-train-20240101-000000.sqlite", "dwh-20240101-000000.sqlite", made[0] + ".partial", "notes.txt"]
            Self.touch(directory, made.shuffled() + others)
            #expect(try series.members() == made)
            #expect(try series.newest() == made.last)
            let deleted = try series.rotate(keep: 2)
            #expect(deleted == made.prefix(4).map { directory + "/" + $0 })
            #expect(try Self.listing(directory) == (made.suffix(2) + others).sorted())
            #expect(try series.rotate(keep: 2).isEmpty)
            // Missing directory: nothing to list, nothing to rotate.
            let missing = BackupSeries(warehouse: "dwh.sqlite", kind: "pre-train", in: directory + "/none")
            #expect(try missing.members().isEmpty && missing.rotate(keep: 1).isEmpty)
        }
    }

    @Test func rotationNeverDeletesAProtectedMember() throws {
        try withTemporaryDirectory { directory throws in
            let series = BackupSeries(warehouse: "dwh.sqlite", kind: "pre-train", in: directory)
            // The clock stepped back: the backup just made sorts before the older ones.
            let older = (1...3).map { series.name(atMilliseconds: Self.newYear + Int64($0) * 1000) }
            let justMade = series.name(atMilliseconds: Self.newYear)
            Self.touch(directory, older + [justMade])
            #expect(try series.rotate(keep: 1, protecting: [justMade]) == older.prefix(2).map { directory + "/" + $0 })
            #expect(try Self.listing(directory) == [justMade, older[2]].sorted())
        }
    }

    @Test func rotatingSafetyCopiesDeletesTheirWALAndSharedMemoryToo() throws {
        try withTemporaryDirectory { directory throws in
            let series = BackupSeries(safetyCopiesOf: directory + "/dwh.sqlite")
            let legacy = "dwh.sqlite.before-restore-20231231-235959"
            let copies = [legacy] + (0..<3).map { series.name(atMilliseconds: Self.newYear + Int64($0)) }
            Self.touch(directory, copies + [legacy + "-wal", copies[1] + "-wal", copies[1] + "-shm", copies[3] + "-wal", "dwh.sqlite", "dwh.sqlite-wal"])
            #expect(try series.rotate(keep: 2) == copies.prefix(2).map { directory + "/" + $0 })
            #expect(try Self.listing(directory)
                == [copies[2], copies[3], copies[3] + "-wal", "dwh.sqlite", "dwh.sqlite-wal"].sorted())
        }
    }

    @Test func staleBackupFilesAreRemovedAndOnesBeingWrittenAreNot() throws {
        try withTemporaryDirectory { directory throws in
            let series = BackupSeries(warehouse: "dwh.sqlite", kind: "pre-train", in: directory)
            let stale = series.name(atMilliseconds: Self.newYear) + ".partial"
            let live = series.name(atMilliseconds: Self.newYear + 1) + ".partial"
            let foreign = "other-pre-train-20240101-000000-000.sqlite.partial"
            let notOurs = "dwh-pre-train-20240101-000000-000.sqlite.partial.partial"
            Self.touch(directory, [stale, stale + "-journal", stale + "-wal", live, live + "-journal", foreign, notOurs],
                       contents: "half a copy")
            // A backup writing `live`: it holds an exclusive flock on it.
            let holder = open(directory + "/" + live, O_RDONLY | O_CLOEXEC)
            #expect(holder >= 0 && flock(holder, LOCK_EX | LOCK_NB) == 0)
            #expect(try series.removeStalePartials() == [directory + "/" + stale])
            #expect(try Self.listing(directory) == [live, live + "-journal", foreign, notOurs].sorted())
            // Once its writer is gone it is stale too.
            close(holder)
            #expect(try series.removeStalePartials() == [directory + "/" + live])
            #expect(try Self.listing(directory) == [foreign, notOurs].sorted())
            #expect(try BackupSeries(warehouse: "dwh", kind: "pre-train", in: directory + "/none").removeStalePartials().isEmpty)
        }
    }
}
