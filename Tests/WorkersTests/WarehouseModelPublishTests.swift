import Foundation
import Testing
import Wire
import Workers

/// `publish`: the model registry and the predictions table, replaced in one transaction.
@Suite(.timeLimit(.minutes(1))) struct WarehouseModelPublishTests {
    /// SQLite's extended constraint codes (function-like macros in C, and CSQLite is not a test dependency).
    static let constraintCheck: Int32 = 275, constraintPrimaryKey: Int32 = 1555, constraintUnique: Int32 = 2067

    static let metrics = ModelMetrics(
        rocAUC: 0.91, precision: 0.8, recall: 0.75, f1: 0.7741935483870968,
        truePositives: 30, falsePositives: 7, trueNegatives: 950, falseNegatives: 10, trainRows: 3988, testRows: 997)

    /// A model with a recognisable blob; `tag` tells models apart.
    static func newModel(_ status: ModelStatus = .serving, tag: UInt8 = 1, reason: String? = nil) -> NewModel {
        NewModel(
            parameters: #"{"max_depth":10,"n_estimators":100,"seed":\#(tag)}"#, metrics: metrics, rowCount: 12,
            dataFingerprint: String(repeating: "ab", count: 16), watermarkBatch: 3, model: [tag, 0, 255, tag],
            status: status, reason: reason)
    }

    /// A warehouse at `directory/dwh.sqlite` with pumps 1–3 × hours 0–3 loaded, and its training data.
    static func loaded(_ directory: String) throws -> (Warehouse, TrainingData, String) {
        let path = directory + "/dwh.sqlite"
        let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
        let records = (0..<4).flatMap { hour in (1...3).map { WarehouseModelTrainingDataTests.distinctRecord($0, hour: Int64(hour)) } }
        _ = try warehouse.commit(makeBatch(1, records), dropped: 0, windowState: [])
        return (warehouse, try warehouse.trainingData(), path)
    }

    /// The first `rows` rows of `data`.
    static func prefix(_ data: TrainingData, _ rows: Int) -> TrainingData {
        TrainingData(
            timestamps: Array(data.timestamps.prefix(rows)), pumps: data.pumps, pumpIndices: Array(data.pumpIndices.prefix(rows)),
            columns: data.columns.map { Array($0.prefix(rows)) }, labels: Array(data.labels.prefix(rows)),
            fingerprint: data.fingerprint, watermark: data.watermark)
    }

    /// Risks that differ per row and per `run`.
    static func predictions(_ data: TrainingData, run: Double) -> Predictions {
        let risks = (0..<data.count).map { (Double($0) * 0.07 + run * 0.013).truncatingRemainder(dividingBy: 1) }
        return Predictions(data: data, riskScores: risks, predicted: risks.map { $0 >= 0.5 ? 1 : 0 })
    }

    static let predictionRowsSQL = """
        SELECT timestamp || ' ' || pump_id || ' ' || flow_rate || ' ' || pressure || ' ' || vibration || ' ' ||
            temperature || ' ' || ai_risk_score_percent || ' ' || ai_predicted_failure || ' ' || model_version
        FROM ai_telemetry_predictions ORDER BY pump_id, timestamp
        """

    /// The rows `publish` should have written for `predictions` under `version`, as `predictionRowsSQL` reads them.
    static func expectedRows(_ predictions: Predictions, version: Int64) -> [String] {
        let data = predictions.data
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return (0..<data.count).map { row in
            let time = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(data.timestamps[row])))
            let readings = (0..<4).map { "\(data.columns[$0][row])" }.joined(separator: " ")
            let percent = (predictions.riskScores[row] * 10_000).rounded() / 100
            return "\(time) \(data.pumpID(atRow: row)) \(readings) \(percent) \(predictions.predicted[row]) \(version)"
        }
    }

    @Test func publishReplacesThePredictionsWholeAndRetiresThePreviousModel() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, data, path) = try Self.loaded(directory)
            #expect(try warehouse.servingModel() == nil)
            let first = Self.predictions(data, run: 1)
            let v1 = try warehouse.publish(model: Self.newModel(tag: 1), predictions: first)
            #expect(try queryStrings(path, Self.predictionRowsSQL) == Self.expectedRows(first, version: v1))
            #expect(try queryInteger(path, "SELECT count(*) FROM ai_telemetry_predictions") == 12)

            // Fewer rows and other scores: nothing of the first run may remain.
            let second = Self.predictions(Self.prefix(data, 5), run: 2)
            let v2 = try warehouse.publish(model: Self.newModel(tag: 2), predictions: second)
            #expect(v2 > v1)
            #expect(try queryStrings(path, Self.predictionRowsSQL) == Self.expectedRows(second, version: v2))

            let models = try warehouse.listModels()
            #expect(models.map(\.version) == [v1, v2])
            #expect(models.map(\.status) == [.retired, .serving])
            #expect(models.allSatisfy { $0.model.isEmpty && $0.metrics == Self.metrics && $0.rowCount == 12 })
            #expect(try warehouse.listModels(includeBlobs: true).map(\.model) == [[1, 0, 255, 1], [2, 0, 255, 2]])
            let serving = try #require(try warehouse.servingModel())
            #expect(serving.version == v2 && serving.model == [2, 0, 255, 2] && serving.reason == nil)
            #expect(serving.parameters == Self.newModel(tag: 2).parameters)
            #expect(serving.dataFingerprint == String(repeating: "ab", count: 16) && serving.watermarkBatch == 3)
            #expect(serving.createdAt.count == 19 && serving.createdAt.hasPrefix("20"))
        }
    }

    @Test func aRejectedModelIsRecordedAndLeavesThePredictionsUntouched() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, data, path) = try Self.loaded(directory)
            let v1 = try warehouse.publish(model: Self.newModel(tag: 1), predictions: Self.predictions(data, run: 1))
            let before = try queryStrings(path, Self.predictionRowsSQL)
            let v2 = try warehouse.publish(
                model: Self.newModel(.rejected, tag: 2, reason: "roc_auc 0.55 below 0.7"), predictions: Self.predictions(data, run: 2))
            let v3 = try warehouse.recordRejected(Self.newModel(tag: 3), reason: "recall 0.1 below 0.5")
            #expect(try queryStrings(path, Self.predictionRowsSQL) == before)
            let models = try warehouse.listModels()
            #expect(models.map(\.version) == [v1, v2, v3])
            #expect(models.map(\.status) == [.serving, .rejected, .rejected])
            #expect(models.map(\.reason) == [nil, "roc_auc 0.55 below 0.7", "recall 0.1 below 0.5"])
            #expect(try warehouse.servingModel()?.version == v1)
        }
    }

    @Test func aReaderInsideItsSnapshotSeesTheOldTableWholeThenTheNewOne() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, data, path) = try Self.loaded(directory)
            let first = Self.predictions(data, run: 1)
            let v1 = try warehouse.publish(model: Self.newModel(tag: 1), predictions: first)
            let reader = try Database(path: path)
            let summary = """
                SELECT count(*) || ' ' || min(model_version) || ' ' || max(model_version) || ' ' ||
                    (SELECT version FROM ml_models WHERE status = 'serving')
                FROM ai_telemetry_predictions
                """
            func read() throws -> (String, [String]) {
                let statement = try reader.prepare(summary)
                _ = try statement.step()
                let rows = try reader.prepare(Self.predictionRowsSQL)
                var values: [String] = []
                while try rows.step() { values.append(rows.string(at: 0)) }
                return (statement.string(at: 0), values)
            }
            try reader.execute("BEGIN")
            let old = try read()  // the first read fixes the reader's snapshot
            #expect(old.0 == "12 \(v1) \(v1) \(v1)")

            let second = Self.predictions(Self.prefix(data, 7), run: 2)
            let v2 = try warehouse.publish(model: Self.newModel(tag: 2), predictions: second)
            let during = try read()
            #expect(during.0 == old.0 && during.1 == old.1)
            #expect(during.1 == Self.expectedRows(first, version: v1))

            try reader.execute("COMMIT")
            let after = try read()
            #expect(after.0 == "7 \(v2) \(v2) \(v2)")
            #expect(after.1 == Self.expectedRows(second, version: v2))
        }
    }

    @Test func aPublishFailingMidwayLeavesModelsAndPredictionsAsTheyWere() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, data, path) = try Self.loaded(directory)
            _ = try warehouse.publish(model: Self.newModel(tag: 1), predictions: Self.predictions(data, run: 1))
            let rowsBefore = try queryStrings(path, Self.predictionRowsSQL)
            let modelsBefore = try warehouse.listModels(includeBlobs: true)

            // The last prediction repeats the first one's key: the key fails after eleven rows went in.
            var duplicated = data
            duplicated.timestamps.append(data.timestamps[0])
            duplicated.pumpIndices.append(data.pumpIndices[0])
            for column in duplicated.columns.indices { duplicated.columns[column].append(1) }
            duplicated.labels.append(0)
            #expect {
                try warehouse.publish(model: Self.newModel(tag: 2), predictions: Self.predictions(duplicated, run: 2))
            } throws: { error in
                guard let error = error as? WarehouseError, case .database(let cause) = error.code else { return false }
                return cause.resultCode == Self.constraintPrimaryKey && cause.sql?.contains("ai_telemetry_predictions") == true
            }
            #expect(try queryStrings(path, Self.predictionRowsSQL) == rowsBefore)
            #expect(try warehouse.listModels(includeBlobs: true) == modelsBefore)

            // Refused before any SQL: nothing changes either.
            var outOfRange = Self.predictions(data, run: 3)
            outOfRange.riskScores[4] = 1.5
            var notANumber = Self.predictions(data, run: 3)
            notANumber.riskScores[0] = .nan
            var short = Self.predictions(data, run: 3)
            short.predicted.removeLast()
            var badFlag = Self.predictions(data, run: 3)
            badFlag.predicted[2] = 2
            let refusals: [(NewModel, Predictions?, WarehouseError.Code)] = [
                (Self.newModel(), outOfRange, .invalidPredictions("row 4 (P_002 at 1704067200): risk 1.5 outside 0...1")),
                (Self.newModel(), notANumber, .invalidPredictions("row 0 (P_001 at 1704067200): risk nan outside 0...1")),
                (Self.newModel(), short, .invalidPredictions("12 timestamps but 11 predicted flags")),
                (Self.newModel(), badFlag, .invalidPredictions("row 2 (P_001 at 1704074400): predicted flag 2, expected 0 or 1")),
                (Self.newModel(), nil, .invalidPredictions("a serving model needs its predictions")),
                (Self.newModel(.retired), Self.predictions(data, run: 3), .invalidModel("a new model is serving or rejected, not retired")),
                ({ var model = Self.newModel(); model.parameters = "[1, 2]"; return model }(), Self.predictions(data, run: 3),
                 .invalidModel("parameters are not a JSON object")),
            ]
            for (model, predictions, code) in refusals {
                #expect(throws: WarehouseError(code, path: path)) {
                    try warehouse.publish(model: model, predictions: predictions)
                }
            }
            #expect(try queryStrings(path, Self.predictionRowsSQL) == rowsBefore)
            #expect(try warehouse.listModels(includeBlobs: true) == modelsBefore)
        }
    }

    @Test func theTablesThemselvesRefuseWhatPublishNeverWrites() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, data, path) = try Self.loaded(directory)
            _ = try warehouse.publish(model: Self.newModel(), predictions: Self.predictions(data, run: 1))
            let database = try Database(path: path)
            let insertPrediction = "INSERT INTO ai_telemetry_predictions VALUES ('2030-01-01 00:00:00', 'P_009', 1, 1, 1, 1, %@, %@, 1, %@)"
            let statements: [(String, Int32)] = [
                (String(format: insertPrediction, "150", "1", "0"), Self.constraintCheck),
                (String(format: insertPrediction, "-0.01", "0", "0"), Self.constraintCheck),
                (String(format: insertPrediction, "50", "2", "0"), Self.constraintCheck),
                (String(format: insertPrediction, "50", "1", "2"), Self.constraintCheck),
                ("INSERT INTO ml_models SELECT NULL, created_at, 'serving', NULL, parameters, metrics, row_count, data_fingerprint, watermark_batch, model, kind, calibration FROM ml_models", Self.constraintUnique),
                ("UPDATE ml_models SET status = 'archived'", Self.constraintCheck),
            ]
            for (sql, code) in statements {
                let error = #expect(throws: DatabaseError.self) { try database.execute(sql) }
                #expect(error?.resultCode == code, "\(sql)")
            }
        }
    }

    @Test func metricsAreStoredAsSortedSnakeCaseJSONAndNaNSurvives() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, _, path) = try Self.loaded(directory)
            var model = Self.newModel(.rejected, reason: "one class only")
            model.metrics.rocAUC = .nan
            let version = try warehouse.publish(model: model)
            let json = try queryStrings(path, "SELECT metrics FROM ml_models WHERE version = \(version)")
            #expect(json == [#"{"f1":0.7741935483870968,"false_negatives":10,"false_positives":7,"precision":0.8,"recall":0.75,"roc_auc":"NaN","test_rows":997,"train_rows":3988,"true_negatives":950,"true_positives":30}"#])
            #expect(try queryStrings(path, "SELECT json_extract(metrics, '$.true_positives') FROM ml_models") == ["30"])
            let stored = try #require(try warehouse.listModels().first)
            #expect(stored.metrics.rocAUC.isNaN && stored.metrics.f1 == Self.metrics.f1 && stored.metrics.testRows == 997)
        }
    }

    @Test func publishGivesUpAtTheLockDeadlineHavingWrittenNothing() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let policy = LockPolicy(
                busyTimeout: .milliseconds(10), initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(20),
                deadline: .milliseconds(120))
            let warehouse = try Warehouse(path: path, lockPolicy: policy)
            let blocker = try Database(path: path)
            try blocker.execute("BEGIN EXCLUSIVE")
            var blocked = 0
            #expect {
                try warehouse.publish(model: Self.newModel(.rejected), onBlocked: { _ in blocked += 1 })
            } throws: { error in
                guard let error = error as? WarehouseError, case .locked = error.code else { return false }
                return true
            }
            #expect(blocked > 0)
            try blocker.execute("COMMIT")
            #expect(try warehouse.listModels().isEmpty)
            #expect(try warehouse.publish(model: Self.newModel(.rejected)) == 1)
        }
    }
}
