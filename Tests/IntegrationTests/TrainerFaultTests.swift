import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The trainer's own writes meet the world's faults (issue 10, item 2): the N-th write or sync of
/// the trainer process fails with a full disk or an I/O error — the pre-training backup's pages,
/// its verification, the publish transaction of the model and its predictions — swept across the
/// run. After each: the job ends 0, the model and its predictions are exactly a fault-free run's,
/// the warehouse passes `PRAGMA integrity_check`, no `.partial` backup is left and every backup
/// kept is whole, and the trainer waited the fault out (degraded) rather than being restarted.
@Suite(.timeLimit(.minutes(6)))
struct TrainerFaultTests {
    /// A job through `fault` (fired in one process at most), then the checks.
    /// - Returns: the steps the trainer retried (`what` of its retry lines; empty: it did not fire).
    @discardableResult
    static func jobThroughFault(_ fault: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Set<String> {
        let reference = WarehouseFaultTests.reference.db
        let (sandbox, db, run, fired) = try WarehouseFaultTests.faultedJob(fault)
        #expect(run.code == 0, "\(fault): \(run.stderr.suffix(1500))", sourceLocation: sourceLocation)
        #expect(try WarehouseFaultTests.queryText(db, "PRAGMA integrity_check") == "ok", "\(fault)", sourceLocation: sourceLocation)
        #expect(try WarehouseFaultTests.queryText(db, "SELECT count(*) FROM ml_models WHERE status = 'serving'") == "1",
                "\(fault)", sourceLocation: sourceLocation)
        #expect(try WarehouseFaultTests.queryText(db, "SELECT count(*) FROM ml_models") == "1",
                "\(fault): one model, registered once", sourceLocation: sourceLocation)
        // The model is deterministic for a seed: the predictions are a fault-free run's, value for value.
        let predictions = try NightlyJobTests.differingRows(
            db, reference, table: "ai_telemetry_predictions",
            columns: "timestamp, pump_id, ai_risk_score_percent, ai_predicted_failure")
        #expect(predictions == 0, "\(fault): the predictions differ from a fault-free run's", sourceLocation: sourceLocation)
        #expect(try NightlyJobTests.differingRows(db, reference) == 0, "\(fault)", sourceLocation: sourceLocation)
        let backups = sandbox.path + "/backups"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []
        #expect(!files.contains { $0.hasSuffix(".partial") }, "\(fault): \(files)", sourceLocation: sourceLocation)
        let kept = files.filter { $0.hasSuffix(".sqlite") }
        #expect(!kept.isEmpty, "\(fault): no backup before training", sourceLocation: sourceLocation)
        for file in kept {
            #expect(try WarehouseFaultTests.queryText(backups + "/" + file, "PRAGMA integrity_check") == "ok",
                    "\(fault): \(file)", sourceLocation: sourceLocation)
        }
        let log = (try? String(contentsOfFile: sandbox.path + "/logs/cidp.log", encoding: .utf8)) ?? ""
        var retried: Set<String> = []
        for line in log.split(separator: "\n") where line.contains("Warehouse trouble; retrying") {
            if let range = line.range(of: "\"what\":\"") {
                retried.insert(String(line[range.upperBound...].prefix { $0 != "\"" }))
            }
        }
        if fired {
            // Waited out where it happened, said as the world's trouble: no exit, no restart.
            let exits = log.split(separator: "\n").filter {
                $0.contains("Worker exited unexpectedly") && $0.contains("\"worker.name\":\"trainer\"")
            }
            #expect(exits.isEmpty, "\(fault): the trainer was restarted: \(exits)", sourceLocation: sourceLocation)
            #expect(!retried.isEmpty, "\(fault)", sourceLocation: sourceLocation)
        }
        return fired ? retried : []
    }

    @Test func theTrainerWaitsOutFailingWritesAcrossItsBackupAndPublish() throws {
        // The trainer's writes, in order: the backup's pages into its .partial file, then the
        // publish transaction's WAL frames. Three failures in a row each time.
        var fired = 0
        var steps: Set<String> = []
        for (index, write) in [1, 3, 8, 20, 50, 120, 300].enumerated() {
            let error = index.isMultiple(of: 2) ? "full" : "ioerr"
            let retried = try Self.jobThroughFault("trainer:write:\(write):\(error):3")
            if !retried.isEmpty { fired += 1 }
            steps.formUnion(retried)
        }
        #expect(fired >= 5, "only \(fired) of 7 faults fired: the sweep ran past the trainer's writes")
        // The sweep met both of the trainer's writing steps.
        #expect(steps.isSuperset(of: ["backup before training", "publish"]), "\(steps)")
    }

    @Test func theTrainerWaitsOutFailingSyncs() throws {
        var fired = 0
        for sync in [1, 2, 4] {
            if try !Self.jobThroughFault("trainer:sync:\(sync):ioerr:2").isEmpty { fired += 1 }
        }
        #expect(fired >= 2, "only \(fired) of 3 faults fired")
    }
}
