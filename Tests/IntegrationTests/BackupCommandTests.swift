import CSQLite
import Foundation
import Testing
import Workers

/// `cidp backup` while the default tree loads, and `cidp restore` refused while it runs, then done.
@Suite(.timeLimit(.minutes(3)))
struct BackupCommandTests {
    /// The single integer of `sql` on a read-only connection to `path`.
    static func integer(_ path: String, _ sql: String) throws -> Int64 {
        let statement = try Database(readOnlyPath: path, busyTimeout: .seconds(5)).prepare(sql)
        _ = try statement.step()
        return statement.int64(at: 0)
    }

    static func rows(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        return (try? integer(path, "SELECT count(*) FROM fact_telemetry_features")) ?? 0
    }

    @Test func aBackupWhileLoadingIsConsistentAndRestoresOnceStopped() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let copy = sandbox.path + "/backups/copy.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "5000", "--db", db],
                                        waitUntilReady: false)
        #expect(poll(timeout: .seconds(90)) { Self.rows(db) > 10_000 }, "\(supervisor.log.suffix(2000))")
        #expect(supervisor.isRunning)

        let backup = try sandbox.cidp(["backup", "--db", db, "--to", copy])
        #expect(backup.code == 0, "\(backup.stderr)")
        #expect(backup.stdout.contains("integrity_check ok"), "\(backup.stdout)")
        let live = Self.rows(db)
        let report = try Warehouse.verify(copy)
        let inserted = try Self.integer(copy, "SELECT sum(rows_inserted) FROM etl_batches")
        let lastBatch = try Self.integer(copy, "SELECT max(batch_id) FROM etl_batches")
        #expect(report.factRows > 10_000)
        #expect(report.factRows == inserted)
        #expect(report.factRows == (try Self.integer(copy, "SELECT rows_loaded FROM etl_checkpoint")))
        #expect(lastBatch == (try Self.integer(copy, "SELECT last_batch_id FROM etl_checkpoint")))
        #expect(report.factRows <= live)
        #expect(backup.stdout.contains("\(report.factRows) fact rows"), "\(backup.stdout)")

        let refused = try sandbox.cidp(["restore", copy, "--db", db, "--run-dir", sandbox.runDirectory])
        #expect(refused.code == 2)
        #expect(refused.stderr.contains("running"), "\(refused.stderr)")
        // From another run directory too: the lock beside the warehouse refuses it, naming the tree;
        // the warehouse is not replaced under the running loader, and nothing is left behind.
        let elsewhere = sandbox.path + "/elsewhere"
        let beside = try sandbox.cidp(["restore", copy, "--db", db, "--run-dir", elsewhere])
        #expect(beside.code == 2)
        #expect(beside.stderr.contains("is in use by another tree (cidp up pid \(supervisor.pid)"), "\(beside.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere))
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.path).filter { $0.contains("before-restore") }.isEmpty)

        #expect(try supervisor.stop() == 0, "\(supervisor.log.suffix(2000))")
        let stopped = Self.rows(db)
        #expect(stopped >= live)
        let restore = try sandbox.cidp(["restore", copy, "--db", db, "--run-dir", sandbox.runDirectory])
        #expect(restore.code == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains(".before-restore-"), "\(restore.stdout)")
        #expect(Self.rows(db) == report.factRows)
        let kept = try FileManager.default.contentsOfDirectory(atPath: sandbox.path).filter {
            $0.hasPrefix("dwh.sqlite.before-restore-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm")
        }
        #expect(kept.count == 1)
        if let kept = kept.first { #expect(Self.rows(sandbox.path + "/" + kept) == stopped) }
    }

    @Test func aBackupOfAMissingWarehouseExitsTwoAndWritesNothing() throws {
        let sandbox = try Sandbox(policy: "")
        let result = try sandbox.cidp(["backup", "--db", sandbox.path + "/missing.sqlite", "--to", sandbox.path + "/b.sqlite"])
        #expect(result.code == 2)
        #expect(result.stderr.contains("no such file"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/b.sqlite"))
        let defaulted = try sandbox.cidp(["backup", "--db", "missing.sqlite"])
        #expect(defaulted.code == 2)
        #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/backups"))
    }

    @Test func restoreRefusesACorruptBackupAndKeepsOnlyTheNewestThreeReplacedWarehouses() throws {
        let sandbox = try Sandbox(policy: "")
        let db = sandbox.path + "/dwh.sqlite"
        try TrainerBackupTests.commit(db, [1, 2])
        try TrainerBackupTests.train(sandbox, db, until: 1)

        // `cidp backup` removes what a killed backup left of this warehouse (the trainer's too).
        let stale = sandbox.path + "/backups/dwh-pre-train-20240101-000000-000.sqlite.partial"
        _ = FileManager.default.createFile(atPath: stale, contents: Data(repeating: 1, count: 4096))
        let good = sandbox.path + "/manual/good.sqlite"
        let backup = try sandbox.cidp(["backup", "--db", db, "--to", good])
        #expect(backup.code == 0 && backup.stdout.contains("integrity_check ok; removed 1 stale .partial file"), "\(backup)")
        #expect(!FileManager.default.fileExists(atPath: stale))

        // A backup whose index disagrees with its table: refused in one line, nothing changed.
        let corrupt = sandbox.path + "/manual/corrupt.sqlite"
        try FileManager.default.copyItem(atPath: good, toPath: corrupt)
        try corruptServingIndex(corrupt)
        try TrainerBackupTests.commit(db, [3])
        let warehouseFiles = { try FileManager.default.contentsOfDirectory(atPath: sandbox.path).filter { $0.hasPrefix("dwh.sqlite") }.sorted() }
        let before = try warehouseFiles()
        let bytes = FileManager.default.contents(atPath: db)
        let refused = try sandbox.cidp(["restore", corrupt, "--db", db, "--run-dir", sandbox.runDirectory])
        #expect(refused.code == 2, "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("verification failed: integrity_check: ") && refused.stderr.contains(corrupt), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        #expect(try warehouseFiles() == before)
        #expect(FileManager.default.contents(atPath: db) == bytes)

        // Five restores, however quick: each replaced warehouse kept under its own name, the newest three.
        var kept: [String] = []
        for round in 0..<5 {
            try TrainerBackupTests.commit(db, [UInt64(20 + round)])
            let restore = try sandbox.cidp(["restore", good, "--db", db, "--run-dir", sandbox.runDirectory])
            #expect(restore.code == 0, "\(restore)")
            #expect(restore.stdout.contains("integrity_check ok"), "\(restore.stdout)")
            let copy = restore.stdout.components(separatedBy: "kept as ").last?.split(whereSeparator: \.isWhitespace).first.map(String.init)
            kept.append(copy ?? "?")
            #expect(restore.stdout.contains(round >= 3 ? "(1 older copy deleted)" : "kept as"), "\(restore.stdout)")
        }
        #expect(Set(kept).count == 5, "\(kept)")
        let left = try FileManager.default.contentsOfDirectory(atPath: sandbox.path)
            .filter { $0.hasPrefix("dwh.sqlite.before-restore-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(left.sorted() == kept.suffix(3).map { URL(fileURLWithPath: $0).lastPathComponent }.sorted(), "\(left) \(kept)")
        #expect(Self.rows(db) == 200)
    }
}
