import CSQLite
import Forest
import Foundation
import Testing
import Workers

/// The trainer on the realistic profile, through a real `cidp up` job: forest parity with
/// scikit-learn on the warehouse's own rows and split, the calibrated risk, `in_training`, and
/// `ServedModel` answering exactly what the predictions table holds.
@Suite(.timeLimit(.minutes(5)))
struct RealisticModelTests {
    static let records = 20_000

    /// The default policy with the trainer's `model` key set.
    static func policy(model: String) throws -> String {
        let policy = try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.trainer]\nrole = \"trainer\"\n", with: "[workers.trainer]\nrole = \"trainer\"\nmodel = \"\(model)\"\n")
        #expect(policy.contains("model = \"\(model)\""))
        return policy
    }

    /// One job on the realistic profile; returns the warehouse path (the sandbox keeps it).
    static func realisticJob(_ sandbox: Sandbox) throws -> String {
        let db = sandbox.path + "/realistic.sqlite"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                    "--records", "\(records)", "--sim-profile", "realistic", "--db", db],
                                   timeout: .seconds(240))
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        return db
    }

    /// `SELECT` of one row of doubles.
    static func doubles(_ db: String, _ sql: String) throws -> [Double] {
        var connection: OpaquePointer?
        guard sqlite3_open_v2(db, &connection, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_close(connection) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_finalize(statement) }
        var values: [Double] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            for column in 0..<sqlite3_column_count(statement) { values.append(sqlite3_column_double(statement, column)) }
        }
        return values
    }

    @Test func theForestMatchesScikitLearnOnTheWarehousesRowsAndSplit() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = try Self.realisticJob(sandbox)
        let model = try #require(try Warehouse(path: db, busyTimeout: .seconds(5)).servingModel())
        // Realistic: well below a perfect score.
        #expect(model.metrics.rocAUC > 0.75 && model.metrics.rocAUC < 0.95, "ROC-AUC \(model.metrics.rocAUC)")

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("benchmarks/warehouse_models.py").path
        let python = try sandbox.run("/usr/bin/python3", [script, "--db", db, "--models", "rf", "--n-jobs", "2"],
                                     timeout: .seconds(240))
        #expect(python.code == 0, "\(python.stderr.suffix(2000))")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as? [String: Any])
        // The same rows and the same split.
        #expect(object["rows"] as? Int == Int(model.rowCount))
        #expect(object["test_rows"] as? Int == model.metrics.testRows)
        let rf = try #require((object["models"] as? [String: [String: Double]])?["rf"])
        // F1 by the trainer's rule, probability >= 0.5 (a forest's vote fractions hit 0.5 exactly
        // often; scikit-learn's predict gives those ties to class 0, lowering its F1).
        let (auc, f1) = (try #require(rf["roc_auc"]), try #require(rf["f1_at_least_half"]))
        // Tolerances for 20,000 rows (3,979 holdout rows, 252 failures): scikit-learn's own forest
        // on these rows and split, with random_state 0…3 instead of 42, scores ROC-AUC 0.845–0.853
        // and F1 0.217–0.259 at p >= 0.5 (0.219–0.239 by predict; one true positive moves F1 by
        // about 0.006). Two forests differing only in their randomness therefore differ by about
        // 0.0055 in AUC and 0.014–0.018 in F1 (one standard deviation); the bounds are about three. The tighter targets (−0.002, −0.01) are checked at
        // 100,000 and 1,000,000 rows by `cidp-bench models` (docs/BENCHMARKS.md).
        #expect(model.metrics.rocAUC >= auc - 0.015, "CIDP \(model.metrics.rocAUC), scikit-learn \(auc)")
        #expect(model.metrics.f1 >= f1 - 0.04, "CIDP F1 \(model.metrics.f1), scikit-learn \(f1)")
    }

    @Test func theRiskIsCalibratedAndServedModelAnswersWhatTheTableHolds() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = try Self.realisticJob(sandbox)
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let model = try #require(try warehouse.servingModel())
        let metrics = model.metrics

        // The holdout (in_training = 0): mean risk within 1 point of the observed failure rate.
        let holdout = try Self.doubles(db, """
            SELECT avg(p.ai_risk_score_percent), 100.0 * avg(f.failure), count(*) FROM ai_telemetry_predictions p
            JOIN fact_telemetry_features f USING (pump_id, timestamp) WHERE p.in_training = 0
            """)
        #expect(holdout.count == 3 && Int(holdout[2]) == metrics.testRows, "\(holdout)")
        #expect(abs(holdout[0] - holdout[1]) <= 1, "holdout mean risk \(holdout[0]) %, observed \(holdout[1]) %")
        let training = try Self.doubles(db, "SELECT count(*) FROM ai_telemetry_predictions WHERE in_training = 1")
        #expect(training == [Double(metrics.trainRows)])

        // Recorded: Brier, the same mean and rate, a 10-bin reliability table over the holdout.
        let brier = try #require(metrics.brier)
        #expect(brier > 0 && brier < 0.1, "Brier \(brier)")
        #expect(abs(try #require(metrics.holdoutMeanRisk) * 100 - holdout[0]) < 0.01)
        let bins = try #require(metrics.reliability)
        #expect(bins.count == 10 && bins.reduce(0) { $0 + $1.count } == metrics.testRows)
        #expect(model.kind == .forest && model.calibration != nil)

        // ServedModel: exactly what ai_risk_score_percent / 100 holds, row for row.
        let served = try ServedModel(record: model)
        #expect(served.version == model.version)
        let data = try warehouse.trainingData()
        let risk = served.riskProbabilities(FeatureMatrix(columns: data.columns))
        let stored = try Self.doubles(db, "SELECT ai_risk_score_percent FROM ai_telemetry_predictions ORDER BY pump_id, timestamp")
        #expect(stored.count == risk.count)
        let mismatches = zip(stored, risk).filter { $0 / 100 != $1 }.count
        #expect(mismatches == 0, "\(mismatches) rows differ")

        // cidp models shows the calibration.
        let listing = try sandbox.cidp(["models", "--db", db])
        #expect(listing.code == 0 && listing.stdout.contains("BRIER") && listing.stdout.contains("holdout reliability"),
                "\(listing.stdout)")
    }

    /// `model = "boosted"`: the boosted trees serve, scored against scikit-learn's
    /// HistGradientBoostingClassifier() on the warehouse's own rows and split, calibrated on the
    /// rows early stopping held out, and the predictions table is what `ServedModel` says.
    @Test func theBoostedModelMatchesHistGradientBoostingOnTheWarehousesRowsAndSplit() throws {
        let sandbox = try Sandbox(policy: try Self.policy(model: "boosted"))
        let db = try Self.realisticJob(sandbox)
        let warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
        let model = try #require(try warehouse.servingModel())
        #expect(model.kind == .boosted)
        #expect(model.calibration?.contains("early stopping held out") == true, "\(model.calibration ?? "nil")")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("benchmarks/warehouse_models.py").path
        let python = try sandbox.run("/usr/bin/python3", [script, "--db", db, "--models", "hgb"], timeout: .seconds(240))
        #expect(python.code == 0, "\(python.stderr.suffix(2000))")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as? [String: Any])
        #expect(object["test_rows"] as? Int == model.metrics.testRows)
        let hgb = try #require((object["models"] as? [String: [String: Double]])?["hgb"])
        let auc = try #require(hgb["roc_auc"])
        // At 20,000 rows one fit's AUC moves by about 0.005 with its seed alone (BoostedPeerTests
        // measured 0.002–0.005 per fit on each side): three of those.
        #expect(model.metrics.rocAUC >= auc - 0.015, "CIDP boosted \(model.metrics.rocAUC), scikit-learn HGB \(auc)")
        // The calibrated holdout risk against the observed rate, and the table against ServedModel.
        let holdout = try Self.doubles(db, """
            SELECT avg(p.ai_risk_score_percent), 100.0 * avg(f.failure) FROM ai_telemetry_predictions p
            JOIN fact_telemetry_features f USING (pump_id, timestamp) WHERE p.in_training = 0
            """)
        #expect(holdout.count == 2 && abs(holdout[0] - holdout[1]) <= 1, "\(holdout)")
        let served = try ServedModel(record: model)
        let risk = served.riskProbabilities(FeatureMatrix(columns: try warehouse.trainingData().columns))
        let stored = try Self.doubles(db, "SELECT ai_risk_score_percent FROM ai_telemetry_predictions ORDER BY pump_id, timestamp")
        #expect(stored.count == risk.count && zip(stored, risk).allSatisfy { $0 / 100 == $1 })
    }

    /// `model = "best"`: both are fitted and judged on one holdout; the better ROC-AUC serves.
    @Test func bestServesTheModelWithTheBetterHoldout() throws {
        let sandbox = try Sandbox(policy: try Self.policy(model: "best"))
        let db = try Self.realisticJob(sandbox)
        let model = try #require(try Warehouse(path: db, busyTimeout: .seconds(5)).servingModel())
        let log = try String(contentsOfFile: sandbox.path + "/logs/cidp.log", encoding: .utf8)
        var fitted: [String: Double] = [:]
        for line in log.split(separator: "\n") where line.contains("\"Model fitted\"") {
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let metadata = try #require(entry["metadata"] as? [String: String])
            fitted[try #require(metadata["model"])] = Double(try #require(metadata["roc_auc"]))
        }
        let forest = try #require(fitted["forest"]), boosted = try #require(fitted["boosted"])
        #expect(model.kind == (boosted > forest ? .boosted : .forest), "forest \(forest), boosted \(boosted), served \(model.kind)")
        #expect(model.metrics.rocAUC == max(forest, boosted))
        // Both are recorded with the serving model, and cidp models shows what it was judged against.
        let candidates = try #require(model.metrics.candidates)
        #expect(candidates.map(\.kind) == [.forest, .boosted])
        #expect(Dictionary(uniqueKeysWithValues: candidates.map { ($0.kind.rawValue, $0.rocAUC) }) == fitted)
        #expect(candidates.allSatisfy { $0.brier != nil && ($0.fitSeconds ?? 0) > 0 })
        let shown = try sandbox.cidp(["models", "--db", db])
        #expect(shown.code == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("serves the higher holdout ROC-AUC of the models fitted on its split"), "\(shown.stdout)")
        #expect(shown.stdout.contains("\(model.kind.rawValue) (serving)"), "\(shown.stdout)")
    }

    @Test func anUnknownProfileIsRefusedInOneLineWithExit2() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                    "--sim-profile", "noisy", "--db", sandbox.path + "/x.sqlite"])
        #expect(run.code == 2)
        #expect(run.stderr.contains("--sim-profile expects one of original, realistic, got 'noisy'"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/x.sqlite"))
    }
}
