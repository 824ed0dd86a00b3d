import Forest
import Foundation
import Synchronization
import Workers

/// The prediction API without the socket: a request in, a status and a JSON body out.
///
/// `GET /health` → 200 `{"status":"ok","model_version":N|null,…}`; `POST /v1/predict` with one
/// reading object or an array of them → 200 with, per reading, `risk_probability` (0…1, the
/// calibrated risk), `critical_risk` (0/1, the model's own decision) and `model_version`, both
/// exactly what the trainer publishes for the same row (`ServedModel.scores`); a bad body → 400 naming the field
/// (and the index in an array); no serving model → 503 saying why; the warehouse unreadable while
/// computing rolling means → 503.
final class PredictorService: Sendable {
    struct Reply: Equatable, Sendable {
        var status: Int
        var body: [UInt8]
    }

    let slot: ModelSlot
    let databasePath: String
    let maximumReadings: Int
    /// The connection that computes rolling means: one request at a time (a few indexed reads).
    private let means = Mutex<Warehouse?>(nil)

    init(slot: ModelSlot, databasePath: String, maximumReadings: Int) {
        self.slot = slot
        self.databasePath = databasePath
        self.maximumReadings = maximumReadings
    }

    func respond(method: String, path: String, body: [UInt8]) -> Reply {
        switch (method, path) {
        case ("GET", "/health"), ("HEAD", "/health"):
            let (model, reason) = slot.current
            return Self.json(200, Health(status: "ok", modelVersion: model?.version, reason: model == nil ? reason : nil))
        case (_, "/health"):
            return Self.error(405, "method_not_allowed", "\(Self.shown(method)) /health: expected GET")
        case ("POST", "/v1/predict"):
            return predict(body: body)
        case (_, "/v1/predict"):
            return Self.error(405, "method_not_allowed", "\(Self.shown(method)) /v1/predict: expected POST")
        default:
            return Self.error(404, "not_found", "no such path \(Self.shown(path)); the API has GET /health and POST /v1/predict")
        }
    }

    private func predict(body: [UInt8]) -> Reply {
        let input: PredictionInput
        do { input = try PredictionInput(body: body, maximumReadings: maximumReadings) } catch {
            return Self.json(400, Failure(error: "bad_request", message: error.description, field: error.field, index: error.index))
        }
        // One model for the whole request, even if a newer one is swapped in meanwhile.
        let (current, reason) = slot.current
        guard let model = current else { return Self.error(503, "no_model", reason) }
        var readings = input.readings
        let missing = readings.indices.filter { readings[$0].vibrationRollingMean == nil || readings[$0].pressureRollingMean == nil }
        if !missing.isEmpty {
            let asked = missing.map {
                ServingReading(pumpID: readings[$0].pumpID, timestamp: readings[$0].timestamp,
                               vibration: readings[$0].vibration, pressure: readings[$0].pressure)
            }
            let computed: [(vibration: Double, pressure: Double)]
            do { computed = try rollingMeans(asked) } catch {
                return Self.error(503, "warehouse_unavailable", "cannot compute the rolling means from the warehouse: \(error)")
            }
            for (index, mean) in zip(missing, computed) {
                if readings[index].vibrationRollingMean == nil { readings[index].vibrationRollingMean = mean.vibration }
                if readings[index].pressureRollingMean == nil { readings[index].pressureRollingMean = mean.pressure }
            }
        }
        // The columns of `TrainingData.featureNames`, in that order.
        let columns: [[Double]] = [
            readings.map(\.flowRate), readings.map(\.pressure), readings.map(\.vibration), readings.map(\.temperature),
            readings.map { $0.vibrationRollingMean! }, readings.map { $0.pressureRollingMean! },
        ]
        assert(columns.count == TrainingData.featureNames.count)
        let scores = model.scores(FeatureMatrix(columns: columns))
        let predictions = zip(readings, scores).map { reading, score in
            Prediction(pumpID: reading.pumpID, timestamp: RFC3339.format(reading.timestamp), riskProbability: score.risk,
                       criticalRisk: Int(score.predictedFailure), modelVersion: model.version)
        }
        return input.isArray
            ? Self.json(200, PredictionList(modelVersion: model.version, predictions: predictions))
            : Self.json(200, predictions[0])
    }

    private func rollingMeans(_ readings: [ServingReading]) throws(WarehouseError) -> [(vibration: Double, pressure: Double)] {
        let path = databasePath
        return try means.withLock { (warehouse: inout Warehouse?) throws(WarehouseError) in
            do throws(WarehouseError) {
                if warehouse == nil { warehouse = try Warehouse(readingOnly: path, busyTimeout: .milliseconds(200)) }
                return try warehouse!.rollingMeans(for: readings)
            } catch {
                warehouse = nil
                throw error
            }
        }
    }

    // MARK: JSON

    struct Health: Encodable {
        var status: String
        var modelVersion: Int64?
        var reason: String?
        enum CodingKeys: String, CodingKey { case status, modelVersion = "model_version", reason }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status, forKey: .status)
            try container.encode(modelVersion, forKey: .modelVersion)  // null when none
            try container.encodeIfPresent(reason, forKey: .reason)
        }
    }

    struct Prediction: Encodable {
        var pumpID: String
        var timestamp: String
        var riskProbability: Double
        var criticalRisk: Int
        var modelVersion: Int64
        enum CodingKeys: String, CodingKey {
            case pumpID = "pump_id", timestamp, riskProbability = "risk_probability", criticalRisk = "critical_risk"
            case modelVersion = "model_version"
        }
    }

    struct PredictionList: Encodable {
        var modelVersion: Int64
        var predictions: [Prediction]
        enum CodingKeys: String, CodingKey { case modelVersion = "model_version", predictions }
    }

    struct Failure: Encodable {
        var error: String
        var message: String
        var field: String?
        var index: Int?
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> Reply {
        json(status, Failure(error: code, message: message))
    }

    static func json(_ status: Int, _ value: some Encodable) -> Reply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"internal","message":"the answer did not encode"}"#.utf8)
        return Reply(status: status, body: Array(data) + [UInt8(ascii: "\n")])
    }

    /// A method or path from the request, bounded (it is echoed in a JSON string, which escapes it).
    static func shown(_ text: String) -> String {
        text.count > 64 ? String(text.prefix(63)) + "…" : text
    }
}
