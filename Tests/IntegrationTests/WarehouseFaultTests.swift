import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Faults of the world at the warehouse — a full disk, I/O errors, a lock — on real processes and
/// a real file: nothing lost, nothing quarantined, nothing wedged. Injected as SQLite's own tests
/// do (a VFS failing the N-th write, sync or open: `CIDP_FAULT_VFS`), and for real (a tmpfs filled
/// to the brim).
@Suite(.timeLimit(.minutes(5)))
struct WarehouseFaultTests {
    static let records = 3000

    /// A fault-free job of `records`, the warehouse every faulted run must end equal to.
    // Built once (a lazy static is initialised once, thread-safely) and only read after.
    nonisolated(unsafe) static let reference: (sandbox: Sandbox, db: String) = {
        let sandbox = try! Sandbox(policy: try! EtlTests.defaultPolicy())
        let db = sandbox.path + "/reference.sqlite"
        let run = try! NightlyJobTests.job(sandbox, db: db, ["--records", "\(records)"])
        precondition(run.code == 0, "the reference job failed: \(run.stderr)")
        return (sandbox, db)
    }()

    /// Runs a job of `records` with `fault` in the environment (fired at most once in all: a once
    /// file), then checks the warehouse. - Returns: whether the fault fired.
    /// A job of `records` in a sandbox of its own with `fault` in the environment, fired at most
    /// once in all (a once file). - Returns: the sandbox, the warehouse, the run, whether it fired.
    static func faultedJob(_ fault: String) throws
        -> (sandbox: Sandbox, db: String, run: (code: Int32, stdout: String, stderr: String), fired: Bool) {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let once = sandbox.path + "/fault-fired"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--records", "\(records)", "--log-level", "warning"],
                                   timeout: .seconds(120),
                                   environment: [SQLiteFaults.variable: fault, SQLiteFaults.onceVariable: once])
        return (sandbox, db, run, FileManager.default.fileExists(atPath: once))
    }

    static func jobThroughFault(_ fault: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        let (sandbox, db, run, fired) = try faultedJob(fault)
        #expect(run.code == 0, "\(fault): \(run.stderr.suffix(1500))", sourceLocation: sourceLocation)
        // Equal to the fault-free warehouse, stored value for value (the sqlite3 shell compares).
        #expect(try NightlyJobTests.differingRows(db, reference.db) == 0, "\(fault)", sourceLocation: sourceLocation)
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        #expect(try warehouse.quarantine(limit: 10).isEmpty, "\(fault): a good batch was quarantined", sourceLocation: sourceLocation)
        #expect(try warehouse.integrityCheck().firstFailure == nil, "\(fault)", sourceLocation: sourceLocation)
        #expect(try queryText(db, "PRAGMA integrity_check") == "ok", "\(fault)", sourceLocation: sourceLocation)
        if fired {
            // Said as what it was: the world's trouble, waited out — never a poison pill.
            let log = (try? String(contentsOfFile: sandbox.path + "/logs/cidp.log", encoding: .utf8)) ?? ""
            #expect(!log.contains("\"event\":\"poison_pill\""), "\(fault)", sourceLocation: sourceLocation)
        }
        return fired
    }

    /// One value from the `sqlite3` shell.
    static func queryText(_ db: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = ["-readonly", db, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func theLoaderWaitsOutFailingWritesAcrossARunsCommitsAndLosesNothing() throws {
        // Writes N… across the run: the migrations at open, each commit's WAL frames, the
        // checkpoints. Three failures in a row each time, a full disk and I/O errors alternating.
        var fired = 0
        for (index, write) in [1, 4, 9, 16, 25, 40, 60, 90].enumerated() {
            let error = index.isMultiple(of: 2) ? "full" : "ioerr"
            if try Self.jobThroughFault("loader:write:\(write):\(error):3") { fired += 1 }
        }
        // The sweep must have met the loader's writes, not run past them.
        #expect(fired >= 6, "only \(fired) of 8 faults fired")
    }

    @Test func theLoaderWaitsOutFailingSyncsAndOpens() throws {
        #expect(try Self.jobThroughFault("loader:open:1:ioerr:2"))
        #expect(try Self.jobThroughFault("loader:open:2:busy:4"))
        _ = try Self.jobThroughFault("loader:sync:1:ioerr:2")
    }

    @Test func theReadersWaitOutAFailingOpenAtStart() throws {
        #expect(try Self.jobThroughFault("extractor:open:1:busy:5"))
        #expect(try Self.jobThroughFault("transformer:open:1:ioerr:5"))
    }

    @Test func aDiskThatStaysFullPastTheDeadlineHaltsTheChainNamingTheCause() throws {
        let policy = try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.loader]\nrole = \"loader\"\n",
            with: "[workers.loader]\nrole = \"loader\"\nio_give_up_after_s = 1\n")
        #expect(policy.contains("io_give_up_after_s = 1"))
        let sandbox = try Sandbox(policy: policy)
        let db = sandbox.path + "/dwh.sqlite"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--records", "\(Self.records)", "--log-level", "critical"],
                                   timeout: .seconds(120), environment: [SQLiteFaults.variable: "loader:write:30:full:100000"])
        #expect(run.code == 1, "\(run.stderr)")
        let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.hasPrefix("cidp: etl halted by loader: warehouse: disk full for "), "\(line)")
        #expect(line.contains("database or disk is full"), "\(line)")
        // Nothing half-done, nothing quarantined: what was committed is whole, and the next run goes on.
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).quarantine(limit: 10).isEmpty)
        let next = try NightlyJobTests.job(sandbox, db: db, ["--records", "\(Self.records)"])
        #expect(next.code == 0, "\(next.stderr)")
        #expect(try NightlyJobTests.differingRows(db, Self.reference.db) == 0)
    }

    @Test func aWarehouseLockedFromOutsideAtStartIsWaitedOutNotAFailedStart() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try NightlyJobTests.job(sandbox, db: db, ["--records", "2000"])
        #expect(first.code == 0, "\(first.stderr)")
        // Another program holds the write lock as the next night's job starts.
        let outside = try Database(path: db, busyTimeout: .seconds(1))
        try outside.execute("BEGIN IMMEDIATE; INSERT INTO etl_runs (run_id, started_at) VALUES ('outside', 'now')")
        let supervisor = try sandbox.up(["--db", db, "--records", "\(Self.records)"], waitUntilReady: false)
        let waited = supervisor.waitForStatus(timeout: .seconds(60)) { tree in
            tree.find("loader")?.state == "degraded" && tree.find("loader")?.reason?.contains("locked") == true
        }
        #expect(waited, "\(supervisor.log.suffix(2000))")
        try outside.execute("ROLLBACK")
        #expect(supervisor.waitForExit(timeout: .seconds(60)) == 0, "\(supervisor.log.suffix(2000))")
        #expect(!supervisor.log.contains("Worker exited unexpectedly"), "\(supervisor.log.suffix(2000))")
        #expect(try NightlyJobTests.differingRows(db, Self.reference.db) == 0)
    }

    /// Overwrites the first bytes of `table`'s root page with garbage, the WAL checkpointed first:
    /// `PRAGMA quick_check` then reports the page.
    static func corruptRootPage(of table: String, in db: String) throws {
        let page = Int(try queryText(db, "SELECT page_size FROM pragma_page_size")) ?? 4096
        let root = Int(try queryText(db, "SELECT rootpage FROM sqlite_schema WHERE name = '\(table)'")) ?? 0
        #expect(root > 1)
        let handle = try #require(FileHandle(forUpdatingAtPath: db))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64((root - 1) * page))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 64))
    }

    @Test func aCorruptWarehouseIsNeverWrittenToAndTheJobSaysHowToRestoreIt() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try NightlyJobTests.job(sandbox, db: db, ["--records", "2000"])
        #expect(first.code == 0, "\(first.stderr)")
        _ = try Self.queryText(db, "PRAGMA journal_mode=DELETE")   // everything in the main file, no WAL left
        try Self.corruptRootPage(of: "fact_telemetry_features", in: db)
        #expect(try Self.queryText(db, "PRAGMA quick_check") != "ok")
        let bytes = FileManager.default.contents(atPath: db)
        // The next night: a source with more records, which must not be written into it.
        let run = try NightlyJobTests.job(sandbox, db: db, ["--records", "4000"])
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.contains(" halted by ") && line.contains("corrupt: warehouse '\(db)': "), "\(line)")
        #expect(line.contains("cidp restore BACKUP --db \(db)"), "\(line)")
        #expect(FileManager.default.contents(atPath: db) == bytes, "the corrupt warehouse was written to")
    }

    @Test func anIndexThatDisagreesWithItsTableHaltsTrainingInsteadOfACrashLoop() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try NightlyJobTests.job(sandbox, db: db, ["--records", "2000"])
        #expect(first.code == 0, "\(first.stderr)")
        _ = try Self.queryText(db, "PRAGMA wal_checkpoint(TRUNCATE)")
        try corruptServingIndex(db)
        #expect(try Self.queryText(db, "PRAGMA quick_check") == "ok")
        #expect(try Self.queryText(db, "PRAGMA integrity_check") != "ok")
        let run = try NightlyJobTests.job(sandbox, db: db, ["--records", "3000"])
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.hasPrefix("cidp: ml halted by trainer: corrupt: warehouse '\(db)': "), "\(line)")
        // Halted once, not restarted again and again; no model trained on it.
        let log = (try? String(contentsOfFile: sandbox.path + "/logs/cidp.log", encoding: .utf8)) ?? ""
        let trainerCrashes = log.split(separator: "\n").filter { $0.contains("Worker exited unexpectedly") && $0.contains("\"trainer\"") }
        #expect(trainerCrashes.isEmpty, "\(trainerCrashes)")
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).listModels().count == 1)
    }

    /// A real full disk: a tmpfs the test mounts (as root) and fills, the warehouse on it.
    @Test func aRealFullDiskIsWaitedOutAndTheRunEqualsAFaultFreeOne() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.trainer]\nrole = \"trainer\"\n",
            with: "[workers.trainer]\nrole = \"trainer\"\nbackup_dir = \"$SANDBOX/backups\"\n"))
        let mount = sandbox.path + "/disk"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: false)
        let mounted = try sandbox.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount])
        guard mounted.code == 0 else {
            // Not root, or no mount in this sandbox: the VFS sweep above covers the same path.
            print("WarehouseFaultTests: tmpfs not mountable here (\(mounted.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); skipped")
            return
        }
        defer { _ = try? sandbox.run("/bin/umount", ["-l", mount]) }
        // Leave 2.5 MiB: 20,000 rows need more (the WAL alone grows to 4 MiB before its first
        // checkpoint), so the loader meets a full disk mid-run.
        let filler = mount + "/filler"
        let fill = try sandbox.run("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=64k", "count=216"])
        #expect(fill.code == 0, "\(fill.stderr)")
        let db = mount + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--db", db, "--records", "20000"])
        let full = supervisor.waitForStatus(timeout: .seconds(60)) { tree in
            tree.find("loader")?.state == "degraded" && tree.find("loader")?.reason?.contains("disk full") == true
        }
        #expect(full, "the loader never met the full disk: \(supervisor.log.suffix(1500))")
        #expect(try supervisor.status().find("loader")?.restarts == 0)
        // The operator makes space; the loader goes on by itself.
        try FileManager.default.removeItem(atPath: filler)
        #expect(supervisor.waitForExit(timeout: .seconds(120)) == 0, "\(supervisor.log.suffix(2000))")
        try EtlTests.checkWarehouse(db, count: 20000)
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        #expect(try warehouse.quarantine(limit: 10).isEmpty)
        #expect(try Self.queryText(db, "PRAGMA integrity_check") == "ok")
        #expect(!supervisor.log.contains("poison_pill") && !supervisor.log.contains("Poison pill"))
    }
}
