import Foundation
import Supervisor
import Testing
import Pipeline
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The integrity gates on the real tree: poisoned data halts the chain with the batch in
/// quarantine and nothing of it loaded or trained on; a halt holds until an operator resumes;
/// `quarantine_and_continue` goes on; a poison pill is quarantined with its crash evidence; the
/// warehouse gate refuses training on a tampered warehouse; label flips too rare for the gates
/// get the model rejected by the promotion guard.
@Suite(.timeLimit(.minutes(3)))
struct IntegrityGateTests {
    /// The default policy with `old` replaced by `new` (which must be there).
    static func policy(replacing old: String = "", with new: String = "") throws -> String {
        let policy = try EtlTests.defaultPolicy()
        guard !old.isEmpty else { return policy }
        #expect(policy.contains(old), "the default policy no longer holds \(old)")
        return policy.replacingOccurrences(of: old, with: new)
    }

    /// Every fact row equals the simulator's clean record for its key (no reading and no label
    /// of a poisoned record), and the count of rows checked.
    static func expectOnlyCleanRows(_ db: String, records: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let generator = TelemetryGenerator(seed: EtlTests.seed, count: records)
        var clean: [String: TelemetryRecord] = [:]
        for index in 0..<records {
            let record = generator.record(at: index)
            clean["\(record.pumpID) \(record.timestamp)"] = record
        }
        let rows = try Warehouse(path: db, busyTimeout: .seconds(5)).rows()
        var dirty = 0
        for row in rows {
            guard let want = clean["\(row.pumpID) \(row.timestamp)"], want.flowRate == row.flowRate,
                  want.pressure == row.pressure, want.vibration == row.vibration,
                  want.temperature == row.temperature, want.failure == row.failure else {
                dirty += 1
                if dirty <= 3 { Issue.record("not a clean record: \(row)", sourceLocation: sourceLocation) }
                continue
            }
        }
        #expect(dirty == 0, "\(dirty) fact rows are not clean", sourceLocation: sourceLocation)
        return rows.count
    }

    /// The run's own error line (`cidp: …`), the last of stderr.
    static func errorLine(_ stderr: String) -> String {
        stderr.split(separator: "\n").map(String.init).last { $0.hasPrefix("cidp: ") } ?? ""
    }

    @Test func onePercentPoisonExitsOneWithNothingPoisonedLoadedAndNoModel() throws {
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--sim-fault", "poison=0.01"], timeout: .seconds(120))
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = Self.errorLine(run.stderr)
        #expect(line.hasPrefix("cidp: etl halted by transformer: gate 'record' quarantined batch 1: record "), "\(line)")
        #expect(line.contains("outside"), "\(line)")

        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let quarantine = try warehouse.quarantine(limit: 10)
        #expect(quarantine.map(\.batchID) == [1])
        #expect(quarantine.first?.gate == "record" && quarantine.first?.action == .halt && quarantine.first?.recordCount == 1000)
        #expect(quarantine.first?.isOpenHalt == true)
        // The raw records, poison included, are kept for the operator.
        let records = try #require(try warehouse.quarantinedRecords(batchID: 1))
        #expect(records.contains("1000000"), "the crushing pressure is in the quarantined records")
        #expect(try warehouse.rowCount() == 0)
        #expect(try warehouse.listModels().isEmpty, "a model was trained")
        #expect(try warehouse.integrityCheck().isClean)

        // What the operator reads: the list, then the batch whole.
        let list = try sandbox.cidp(["quarantine", "--db", db])
        #expect(list.code == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("BATCH  GATE    ACTION  RECORDS") == true, "\(list.stdout)")
        #expect(lines.count > 1 && lines[1].hasPrefix("1      record  halt    1000") && lines[1].contains("halted"), "\(list.stdout)")
        #expect(list.stdout.contains("1 open halt: the chain stays down until 'cidp resume'"), "\(list.stdout)")
        let shown = try sandbox.cidp(["quarantine", "--db", db, "--batch", "1"])
        #expect(shown.code == 0)
        #expect(shown.stdout.hasPrefix("batch 1: gate 'record', halt, 1000 records, quarantined "), "\(shown.stdout.prefix(300))")
        #expect(shown.stdout.contains("\"pressure\":1000000"), "\(shown.stdout.prefix(600))")
        let missing = try sandbox.cidp(["quarantine", "--db", db, "--batch", "7"])
        #expect(missing.code == 2 && missing.stderr.contains("--batch 7: no quarantined batch 7"), "\(missing.stderr)")
    }

    @Test func rarePoisonLoadsTheCleanBatchesBeforeAndResumeGoesOnAfterTheQuarantinedOne() throws {
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let arguments = ["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                         "--sim-fault", "poison=0.0005"]
        let first = try sandbox.cidp(arguments, timeout: .seconds(120))
        #expect(first.code == 1, "\(first.stderr.suffix(2000))")
        let halted = try #require(try Warehouse(path: db, busyTimeout: .seconds(5)).openHalts().first)
        // Every batch before the quarantined one is loaded, exactly as a clean run loads it.
        #expect(try Self.expectOnlyCleanRows(db, records: 10_000) == Int(halted.batchID - 1) * 1000)
        try EtlTests.checkWarehouse(db, count: Int(halted.batchID - 1) * 1000)

        // Without --resume the chain stays halted: the same halt, nothing more loaded.
        let again = try sandbox.cidp(arguments, timeout: .seconds(120))
        #expect(again.code == 1)
        #expect(Self.errorLine(again.stderr).contains("gate 'record' quarantined batch \(halted.batchID):"), "\(again.stderr.suffix(500))")
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount() == Int64(halted.batchID - 1) * 1000)

        // --resume lifts it: the quarantined batch stays out, the chain goes on after it.
        let resumed = try sandbox.cidp(arguments + ["--resume"], timeout: .seconds(120))
        #expect(resumed.stdout.contains("resumed: batch \(halted.batchID) stays in quarantine"), "\(resumed.stdout)")
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let entries = try warehouse.quarantine(limit: 100)
        #expect(entries.contains { $0.batchID == halted.batchID && $0.resumedAt != nil })
        #expect(try warehouse.rowCount() > Int64(halted.batchID - 1) * 1000, "nothing loaded after the resume")
        let loaded = try Self.expectOnlyCleanRows(db, records: 10_000)
        let report = try warehouse.integrityCheck()
        #expect(report.isClean, "\(report.firstFailure ?? "")")
        #expect(report.totals.loaded == Int64(loaded))
        #expect(report.totals.extracted == report.totals.loaded + report.totals.dropped + report.totals.quarantined)
    }

    @Test func aPageThatIsMalformedAgainAndAgainHaltsTheChainInsteadOfRetryingForever() throws {
        let sandbox = try Sandbox(policy: try Self.policy(
            replacing: "[workers.extractor]\nrole = \"extractor\"\n",
            with: "[workers.extractor]\nrole = \"extractor\"\nmalformed_limit = 3\n"))
        let db = sandbox.path + "/dwh.sqlite"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--sim-fault", "malformed=1"], timeout: .seconds(120))
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = Self.errorLine(run.stderr)
        #expect(line.hasPrefix("cidp: etl halted by extractor: gate 'record' refused the first page: 3 malformed bodies in a row: "),
                "\(line)")
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        #expect(try warehouse.rowCount() == 0)
        #expect(try warehouse.listModels().isEmpty)
    }

    @Test func quarantineAndContinueLoadsEveryCleanBatchAndTrains() throws {
        let sandbox = try Sandbox(policy: try Self.policy(
            replacing: "[workers.transformer.gates.record]\non_violation = \"halt\"",
            with: "[workers.transformer.gates.record]\non_violation = \"quarantine_and_continue\""))
        let db = sandbox.path + "/dwh.sqlite"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--sim-fault", "poison=0.0005"], timeout: .seconds(120))
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let quarantine = try warehouse.quarantine(limit: 100)
        #expect(!quarantine.isEmpty && quarantine.allSatisfy { $0.action == .quarantineAndContinue && $0.gate == "record" })
        #expect(try warehouse.openHalts().isEmpty)
        let loaded = try Self.expectOnlyCleanRows(db, records: 10_000)
        #expect(loaded + quarantine.map(\.recordCount).reduce(0, +) == 10_000)
        #expect(run.stdout.contains("\(10_000 - loaded) quarantined"), "\(run.stdout)")
        #expect(try warehouse.servingModel()?.rowCount == Int64(loaded))
    }

    @Test func aBatchThatKeepsCrashingTheTransformerIsQuarantinedAsAPoisonPill() throws {
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let crash = [CrashInjection.crashAtBatchVariable: "3", "SWIFT_BACKTRACE": "enable=no"]
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db],
                                   timeout: .seconds(120), environment: crash)
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        #expect(Self.errorLine(run.stderr).contains("gate 'poison_pill' quarantined batch 3:"), "\(run.stderr.suffix(1000))")
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let entry = try #require(try warehouse.quarantine(limit: 10).first)
        #expect(entry.batchID == 3 && entry.gate == "poison_pill" && entry.recordCount == 1000)
        // The evidence: how many crashes, how the worker died, what it said last.
        let evidence = entry.evidence ?? ""
        #expect(evidence.contains("3 consecutive crashes on batch 3"), "\(evidence)")
        #expect(evidence.contains("SIGABRT"), "\(evidence)")
        #expect(evidence.contains("fault injection: crashing on batch 3"), "\(evidence)")
        try EtlTests.checkWarehouse(db, count: 2000)

        // quarantine_and_continue: the pill is set aside and the job completes without it.
        let lenient = try Sandbox(policy: try Self.policy(
            replacing: "[workers.transformer.gates.poison_pill]\non_violation = \"halt\"",
            with: "[workers.transformer.gates.poison_pill]\non_violation = \"quarantine_and_continue\""))
        let lenientDB = lenient.path + "/dwh.sqlite"
        let completed = try lenient.cidp(["up", "--policy", lenient.policyPath, "--run-dir", lenient.runDirectory,
                                          "--db", lenientDB], timeout: .seconds(120), environment: crash)
        #expect(completed.code == 0, "\(completed.stderr.suffix(2000))")
        let rest = try Warehouse(path: lenientDB, busyTimeout: .seconds(5))
        #expect(try rest.rowCount() == 9000)
        #expect(try rest.quarantine(limit: 10).map(\.batchID) == [3])
        #expect(try rest.integrityCheck().isClean)
    }

    @Test func theWarehouseGateRefusesTrainingOnATamperedWarehouse() throws {
        // Load without a trainer, take a row away behind the warehouse's back, then run the job
        // with the trainer: the reconciliation fails and the trainer halts instead of training.
        var etlOnly = try Self.policy(replacing: "children = [\"sensor-sim\", \"etl\", \"ml\"]",
                                      with: "children = [\"sensor-sim\", \"etl\"]")
        let mlNode = try #require(etlOnly.range(of: "[nodes.ml]"))
        etlOnly = String(etlOnly[..<mlNode.lowerBound])
        let sandbox = try Sandbox(policy: etlOnly)
        let db = sandbox.path + "/dwh.sqlite"
        let load = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                     "--records", "3000"], timeout: .seconds(120))
        #expect(load.code == 0, "\(load.stderr.suffix(2000))")
        let database = try Database(path: db, busyTimeout: .seconds(5))
        try database.execute("DELETE FROM fact_telemetry_features WHERE pump_id = 'P_004' AND timestamp = '2000-01-01 05:00:00'")
        #expect(database.changes == 1)

        try Self.policy().write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)
        let train = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                      "--records", "3000"], timeout: .seconds(120))
        #expect(train.code == 1, "\(train.stderr.suffix(2000))")
        let line = Self.errorLine(train.stderr)
        #expect(line.hasPrefix("cidp: ml halted by trainer: gate 'warehouse' refused training: loaded_rows"), "\(line)")
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).listModels().isEmpty, "a model was trained")
    }

    @Test func aHaltedFollowChainStaysDownAcrossRestartsUntilResumedWhileTheRestRuns() throws {
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let arguments = ["--follow", "--records", "2000", "--sim-rate", "2000", "--db", db, "--sim-fault", "poison=0.0005"]
        var supervisor = try sandbox.up(arguments, waitUntilReady: false)
        func haltedChain(_ supervisor: RunningSupervisor) -> Bool {
            supervisor.waitForStatus(timeout: .seconds(90)) { tree in
                ["etl", "extractor", "transformer", "loader"].allSatisfy { tree.find($0)?.state == "halted" }
            }
        }
        #expect(haltedChain(supervisor), "\(supervisor.log.suffix(3000))")
        let status = try supervisor.status()
        #expect(status.find("etl")?.haltedBy == "transformer")
        #expect(status.find("etl")?.reason?.hasPrefix("gate 'record' quarantined batch ") == true, "\(String(describing: status.find("etl")?.reason))")
        // The rest of the tree keeps running: never restarted, still up a while later.
        for name in ["sensor-sim", "trainer"] {
            #expect(status.find(name)?.state == "running" && status.find(name)?.restarts == 0, "\(name)")
        }
        let simulator = try #require(status.find("sensor-sim")?.pid)
        let halt = try #require(try Warehouse(path: db, busyTimeout: .seconds(5)).openHalts().first)
        let loadedAtHalt = try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount()
        let text = try sandbox.cidp(["status", "--run-dir", sandbox.runDirectory])
        #expect(text.stdout.contains("halted"), "\(text.stdout)")
        #expect(try supervisor.status().find("sensor-sim")?.pid == simulator)
        // A second 'cidp up --resume' beside the running tree changes nothing.
        let beside = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                       "--db", db, "--resume"])
        // Refused by the run directory's lock, taken before anything else: nothing is lifted.
        #expect(beside.code == 2 && beside.stderr.contains("another cidp supervisor is already running in"), "\(beside.stderr)")
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).openHalts().map(\.batchID) == [halt.batchID])

        // A restart of the whole tree does not lift the halt.
        #expect(try supervisor.stop() == 0)
        supervisor = try sandbox.up(arguments, waitUntilReady: false)
        #expect(haltedChain(supervisor), "\(supervisor.log.suffix(3000))")
        #expect(try supervisor.status().find("etl")?.reason?.contains("quarantined batch \(halt.batchID):") == true)
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount() == loadedAtHalt)

        // 'cidp resume': the chain starts again after the quarantined batch and loads on.
        let resume = try sandbox.cidp(["resume", "--run-dir", sandbox.runDirectory], timeout: .seconds(60))
        #expect(resume.code == 0, "\(resume.stderr)")
        #expect(poll(timeout: .seconds(60)) {
            ((try? Warehouse(path: db, busyTimeout: .milliseconds(200)).rowCount()) ?? 0) > loadedAtHalt
        })
        let entries = try Warehouse(path: db, busyTimeout: .seconds(5)).quarantine(limit: 100)
        #expect(entries.contains { $0.batchID == halt.batchID && $0.resumedAt != nil })
        #expect(try supervisor.stop() == 0)
        // Every record up to the last loaded one is loaded or quarantined, and every row is clean.
        let final = try Warehouse(path: db, busyTimeout: .seconds(5))
        let quarantined = try final.quarantine(limit: 1000).map(\.recordCount).reduce(0, +)
        let loaded = try Self.expectOnlyCleanRows(db, records: Int(try final.rowCount()) + quarantined)
        #expect(try final.integrityCheck().totals.extracted == Int64(loaded + quarantined))
    }

    @Test func labelFlipsTooRareForTheGatesGetTheRetrainedModelRejected() throws {
        // Labels inverted in 5 % of the records from record 8000 on: the failure-label rate stays
        // inside the batch gate's band (about 0.05 + 0.05 × 0.9), so the batches load — and the
        // trainer, retraining every 4000 rows, sees its holdout metrics drop and keeps the model
        // as `rejected`; the serving model stays the one trained on clean data.
        let sandbox = try Sandbox(policy: try Self.policy(
            replacing: "[workers.trainer]\nrole = \"trainer\"\n",
            with: "[workers.trainer]\nrole = \"trainer\"\nretrain_rows = 4000\ntrees = 30\n"))
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "4000", "--sim-rate", "2000", "--db", db,
                                         "--sim-fault", "flip=0.05@8000"], waitUntilReady: false)
        func models() -> [ModelRecord] {
            (try? Warehouse(path: db, busyTimeout: .milliseconds(200)).listModels()) ?? []
        }
        #expect(poll(timeout: .seconds(150)) { models().contains { $0.status == .rejected } },
                "\(models().map { "\($0.version) \($0.status) \($0.rowCount) f1 \($0.metrics.f1)" }) \(supervisor.log.suffix(2000))")
        #expect(try supervisor.stop() == 0)

        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        #expect(try warehouse.quarantine(limit: 10).isEmpty, "the flips were caught by a gate, not the guard")
        let all = try warehouse.listModels()
        let rejected = try #require(all.first { $0.status == .rejected })
        #expect(rejected.rowCount > 8000, "rejected a model trained on clean data only: \(rejected.rowCount) rows")
        #expect(rejected.reason?.isEmpty == false)
        let serving = try #require(try warehouse.servingModel())
        #expect(serving.version < rejected.version)
        #expect(serving.metrics.f1 - rejected.metrics.f1 > 0.01 || serving.metrics.rocAUC - rejected.metrics.rocAUC > 0.01)
        // The predictions are still the serving model's.
        #expect(try TrainerTests.predictions(db).allSatisfy { $0.hasSuffix(" \(serving.version)") })
    }

    @Test func aBatchThatKeepsCrashingTheLoaderIsQuarantinedAndTheChainResumesWithoutIt() throws {
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let arguments = ["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db]
        let crash = [CrashInjection.crashAtBatchVariable: "3", CrashInjection.crashRoleVariable: "loader",
                     "SWIFT_BACKTRACE": "enable=no"]
        let run = try sandbox.cidp(arguments, timeout: .seconds(120), environment: crash)
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        #expect(Self.errorLine(run.stderr).hasPrefix("cidp: etl halted by loader: gate 'poison_pill' quarantined batch 3: the batch crashed the loader repeatedly: 3 consecutive crashes on batch 3"),
                "\(run.stderr.suffix(1000))")
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let entry = try #require(try warehouse.quarantine(limit: 10).first)
        #expect(entry.batchID == 3 && entry.gate == "poison_pill" && entry.recordCount == 1000)
        #expect(entry.evidence?.contains("loader: fault injection: crashing on batch 3") == true, "\(entry.evidence ?? "")")
        try EtlTests.checkWarehouse(db, count: 2000)

        // Resumed (the fault gone): the chain restarts from the checkpoint, so the batches after
        // the pill are computed again without it in their rolling windows.
        let resumed = try sandbox.cidp(arguments + ["--resume"], timeout: .seconds(120))
        #expect(resumed.code == 0, "\(resumed.stderr.suffix(2000))")
        let rows = try warehouse.rows()
        let expected = EtlTests.expectedRows(count: 10_000, skipping: 2000..<3000)
        #expect(rows.count == expected.count)
        let differing = zip(rows, expected).filter { row, want in
            row.pumpID != want.pumpID || row.timestamp != want.timestamp || row.failure != want.failure
                || abs((row.vibrationRollingMean ?? .nan) - want.vibrationRollingMean!) > 1e-12 * abs(want.vibrationRollingMean!)
                || abs((row.pressureRollingMean ?? .nan) - want.pressureRollingMean!) > 1e-12 * abs(want.pressureRollingMean!)
        }
        #expect(differing.isEmpty, "\(differing.count) rows differ, e.g. \(String(describing: differing.first))")
        #expect(try warehouse.integrityCheck().isClean)
    }
}
