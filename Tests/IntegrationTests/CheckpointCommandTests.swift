import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `cidp checkpoint show|rewind`: an operator recovers a warehouse without SQL.
@Suite(.timeLimit(.minutes(3)))
struct CheckpointCommandTests {
    @Test func rewindingToABatchAndRunningAgainEqualsOneJob() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try NightlyJobTests.job(sandbox, db: db, ["--records", "5500"])
        #expect(first.code == 0, "\(first.stderr)")

        let show = try sandbox.cidp(["checkpoint", "show", "--db", db])
        #expect(show.code == 0)
        #expect(show.stdout.hasPrefix("\(db): last batch 6; resumes at cursor '5000', after its first 500 records; 5500 rows loaded"),
                "\(show.stdout)")

        // Refused past the checkpoint, changing nothing.
        let before = FileManager.default.contents(atPath: db)
        let past = try sandbox.cidp(["checkpoint", "rewind", "--db", db, "--to-batch", "9", "--run-dir", sandbox.runDirectory])
        #expect(past.code == 2 && past.stderr.contains("cannot rewind: batch 9 is past the checkpoint's last batch 6"), "\(past.stderr)")
        #expect(FileManager.default.contents(atPath: db) == before)

        let rewind = try sandbox.cidp(["checkpoint", "rewind", "--db", db, "--to-batch", "3", "--run-dir", sandbox.runDirectory])
        #expect(rewind.code == 0, "\(rewind.stderr)")
        #expect(rewind.stdout.contains("removed batches 4…6, 2500 fact rows"), "\(rewind.stdout)")
        #expect(rewind.stdout.contains("the next run resumes at cursor '3000'"), "\(rewind.stdout)")
        // The rows of batches 1…3, exactly as the first 3,000 records make them, and a verified backup of before.
        try EtlTests.checkWarehouse(db, count: 3000)
        let backups = try FileManager.default.contentsOfDirectory(atPath: sandbox.path + "/backups").filter { $0.contains("before-rewind") }
        #expect(backups.count == 1)
        if let backup = backups.first {
            #expect(try Warehouse.verify(sandbox.path + "/backups/" + backup).factRows == 5500)
        }

        // The next run continues from batch 3's position and state: equal to one job of 5,500.
        let again = try NightlyJobTests.job(sandbox, db: db, ["--records", "5500"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(again.stdout.contains("this run loaded 2500 rows"), "\(again.stdout)")
        try EtlTests.checkWarehouse(db, count: 5500)
    }

    @Test func rewindIsRefusedWhileATreeRunsOnTheWarehouseWhateverItsRunDirectory() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--db", db, "--records", "3000", "--follow"])
        defer { _ = try? supervisor.stop() }
        #expect(poll(timeout: .seconds(60)) { (try? Warehouse(path: db, busyTimeout: .seconds(1)).checkpoint()?.batchID) ?? 0 >= 2 })
        let elsewhere = sandbox.path + "/elsewhere"
        let refused = try sandbox.cidp(["checkpoint", "rewind", "--db", db, "--to-batch", "1", "--run-dir", elsewhere])
        #expect(refused.code == 2 && refused.stderr.contains("is in use by another tree (cidp up pid \(supervisor.pid)"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere))
        #expect((try Warehouse(path: db, busyTimeout: .seconds(1)).checkpoint()?.batchID ?? 0) >= 2)
    }
}
