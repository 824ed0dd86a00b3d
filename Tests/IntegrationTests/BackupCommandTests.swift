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

        #expect(try supervisor.stop() == 0, "\(supervisor.log.suffix(2000))")
        let stopped = Self.rows(db)
        #expect(stopped >= live)
        let restore = try sandbox.cidp(["restore", copy, "--db", db, "--run-dir", sandbox.runDirectory])
        #expect(restore.code == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains(".before-restore-"), "\(restore.stdout)")
        #expect(Self.rows(db) == report.factRows)
        let kept = try FileManager.default.contentsOfDirectory(atPath: sandbox.path).filter { $0.hasPrefix("dwh.sqlite.before-restore-") && !$0.hasSuffix("-wal") }
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
}
