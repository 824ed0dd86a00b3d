import CSQLite
import Forest
import Foundation
import Supervisor
import Testing
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The trainer under the real tree: the model, its registry entry and the predictions table.
@Suite(.timeLimit(.minutes(3)))
struct TrainerTests {
    /// Every (pump, timestamp, risk, flag, version) of the predictions table, in key order.
    static func predictions(_ db: String) throws -> [String] {
        var connection: OpaquePointer?
        guard sqlite3_open_v2(db, &connection, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_close(connection) }
        var statement: OpaquePointer?
        let sql = "SELECT pump_id, timestamp, ai_risk_score_percent, ai_predicted_failure, model_version "
            + "FROM ai_telemetry_predictions ORDER BY pump_id, timestamp"
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append("\(String(cString: sqlite3_column_text(statement, 0))) \(String(cString: sqlite3_column_text(statement, 1))) "
                + "\(sqlite3_column_double(statement, 2)) \(sqlite3_column_int(statement, 3)) \(sqlite3_column_int(statement, 4))")
        }
        return rows
    }

    @Test func theDefaultJobEndsWithAModelAndTenThousandPredictions() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                    "--db", sandbox.path + "/a.sqlite"], timeout: .seconds(120))
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("model: version 1 (serving) on 10000 rows: ROC-AUC"), "\(run.stdout)")
        let predictions = try Self.predictions(sandbox.path + "/a.sqlite")
        #expect(predictions.count == 10_000)

        // Before training, a verified online backup of the warehouse (beside it, in backups/, named after it).
        let backups = try FileManager.default.contentsOfDirectory(atPath: sandbox.path + "/backups")
            .filter { $0.hasPrefix("a-pre-train-") && $0.hasSuffix(".sqlite") }
        #expect(backups.count == 1, "\(backups)")
        if let backup = backups.first {
            let report = try Warehouse.verify(sandbox.path + "/backups/" + backup)
            #expect(report.factRows == 10_000 && report.predictionRows == 0 && report.models == 0)
        }

        let warehouse = try Warehouse(path: sandbox.path + "/a.sqlite", busyTimeout: .seconds(5))
        let model = try #require(try warehouse.servingModel())
        #expect(model.metrics.rocAUC >= 0.99, "holdout ROC-AUC \(model.metrics.rocAUC)")
        #expect(model.rowCount == 10_000 && model.metrics.testRows == 2_000)

        // The model as stored loads back and predicts what the table holds.
        let forest = try RandomForest(decoding: model.model)
        let data = try warehouse.trainingData()
        let scores = forest.predictProbability(FeatureMatrix(columns: data.columns))
        let stored = predictions.map { Double($0.split(separator: " ")[3])! }
        let recomputed = scores.map { ($0 * 100 * 100).rounded() / 100 }
        #expect(stored == recomputed, "a reloaded model predicts differently")

        // The same seed on the same data: byte-identical predictions and model.
        let again = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                      "--db", sandbox.path + "/b.sqlite"], timeout: .seconds(120))
        #expect(again.code == 0)
        #expect(try Self.predictions(sandbox.path + "/b.sqlite") == predictions)
        let second = try #require(try Warehouse(path: sandbox.path + "/b.sqlite", busyTimeout: .seconds(5)).servingModel())
        #expect(second.model == model.model && second.dataFingerprint == model.dataFingerprint)

        // A second job on the unchanged warehouse finds the model up to date: nothing retrained.
        let rerun = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                      "--db", sandbox.path + "/a.sqlite"], timeout: .seconds(120))
        #expect(rerun.code == 0, "\(rerun.stderr.suffix(2000))")
        #expect(rerun.stdout.contains("model: version 1 (serving)"), "\(rerun.stdout)")
        #expect(try Warehouse(path: sandbox.path + "/a.sqlite", busyTimeout: .seconds(5)).listModels().count == 1)
        let models = try sandbox.cidp(["models", "--db", sandbox.path + "/a.sqlite"])
        #expect(models.code == 0 && models.stdout.contains("serving"), "\(models.stdout)")
    }

    @Test func killingTheTrainerMidFitLeavesThePreviousPredictionsWholeAndTheNextOneFinishes() throws {
        // A slow trainer (many trees), retraining every 10,000 new rows of a growing source.
        let policy = try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.trainer]\nrole = \"trainer\"\n",
            with: "[workers.trainer]\nrole = \"trainer\"\ntrees = 2000\nretrain_rows = 10000\n")
        #expect(policy.contains("trees = 2000"), "the policy was not rewritten")
        let sandbox = try Sandbox(policy: policy)
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "5000", "--db", db],
                                        waitUntilReady: false)
        let warehouse = { try? Warehouse(path: db, busyTimeout: .seconds(1)) }
        // The first model and its predictions.
        #expect(poll(timeout: .seconds(90)) { ((try? warehouse()?.listModels())??.count ?? 0) >= 1 }, "\(supervisor.log.suffix(2000))")
        let first = try Self.predictions(db)
        #expect(!first.isEmpty && first.allSatisfy { $0.hasSuffix(" 1") })
        // Wait for the next fit to start, then kill the trainer in the middle of it.
        let trainings = { supervisor.log.components(separatedBy: "Training").count - 1 }
        #expect(poll(timeout: .seconds(90)) { trainings() >= 2 }, "the second fit never started")
        let trainer = try #require(try supervisor.status().find("trainer")?.pid)
        kill(trainer, SIGKILL)
        // It died mid-fit: the second model was never registered…
        #expect(((try? warehouse()?.listModels())??.count ?? 0) == 1, "the fit had already finished: not a mid-fit kill")
        // …and the table a BI reader sees is still the first run's, whole.
        #expect(try Self.predictions(db) == first, "the predictions changed")
        // The restarted trainer finishes a new model.
        #expect(poll(timeout: .seconds(120)) {
            ((try? warehouse()?.listModels())??.count ?? 0) >= 2 && supervisor.isRunning
        }, "\(supervisor.log.suffix(2000))")
        let status = try supervisor.status().find("trainer")
        #expect(status?.pid != trainer && (status?.restarts ?? 0) >= 1)
        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0)
        #expect(supervisor.waitForExit() == 0)
        let last = try Self.predictions(db)
        let versions = Set(last.map { $0.split(separator: " ").last! })
        #expect(versions.count == 1, "predictions of several models at once: \(versions)")
    }
}
