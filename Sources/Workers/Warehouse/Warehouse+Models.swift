import CSQLite
import Forest
import Foundation

// `ml_models.kind` holds a `Forest.ModelKind`'s raw value: which kind the blob is, and so how it decodes.

/// Where a model stands in the registry (`ml_models.status`).
public enum ModelStatus: String, Equatable, Sendable {
    /// The model whose predictions are in `ai_telemetry_predictions`; at most one at a time.
    case serving
    /// Served once, replaced by a later serving model.
    case retired
    /// Trained, judged not good enough to serve (the reason says why); its predictions were never published.
    case rejected
}

/// How a model scored on held-out data, stored as JSON in `ml_models.metrics` with snake_case
/// keys in sorted order (`{"f1":…,"false_negatives":…,…}`), so SQL can read it with `json_extract`.
/// NaN and infinities (an AUC with one class only) are stored as the strings `"NaN"`, `"Infinity"`.
public struct ModelMetrics: Codable, Equatable, Sendable {
    public var rocAUC: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int
    /// Rows the model was fitted on.
    public var trainRows: Int
    /// Rows it was scored on.
    public var testRows: Int
    /// The Brier score of the calibrated risk on the holdout (nil for models before calibration).
    public var brier: Double?
    /// The holdout's mean calibrated risk, and its observed failure rate.
    public var holdoutMeanRisk: Double?
    public var holdoutFailureRate: Double?
    /// The calibrated risk's reliability on the holdout: 10 bins of width 0.1.
    public var reliability: [ReliabilityBin]?
    /// How the risk was calibrated, e.g. `isotonic on out-of-bag scores of 15920 training rows`.
    public var calibration: String?
    /// Seconds the fit took (the trees, without calibration or scoring).
    public var fitSeconds: Double?
    /// Under `model = "best"`: every model fitted and judged on this holdout, the served one
    /// included, in the order fitted; nil when only one kind was fitted.
    public var candidates: [CandidateFigures]?

    /// Metrics with every field given.
    public init(
        rocAUC: Double, precision: Double, recall: Double, f1: Double,
        truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int,
        trainRows: Int, testRows: Int, brier: Double? = nil, holdoutMeanRisk: Double? = nil,
        holdoutFailureRate: Double? = nil, reliability: [ReliabilityBin]? = nil, calibration: String? = nil
    ) {
        self.brier = brier
        self.holdoutMeanRisk = holdoutMeanRisk
        self.holdoutFailureRate = holdoutFailureRate
        self.reliability = reliability
        self.calibration = calibration
        self.rocAUC = rocAUC
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
        self.trainRows = trainRows
        self.testRows = testRows
    }

    enum CodingKeys: String, CodingKey {
        case rocAUC = "roc_auc", precision, recall, f1
        case truePositives = "true_positives", falsePositives = "false_positives"
        case trueNegatives = "true_negatives", falseNegatives = "false_negatives"
        case trainRows = "train_rows", testRows = "test_rows"
        case brier, holdoutMeanRisk = "holdout_mean_risk", holdoutFailureRate = "holdout_failure_rate"
        case reliability, calibration, fitSeconds = "fit_seconds", candidates
    }
}

/// One model the trainer fitted and judged on the holdout, in brief (`ModelMetrics.candidates`).
public struct CandidateFigures: Codable, Equatable, Sendable {
    public var kind: ModelKind
    public var rocAUC: Double
    public var f1: Double
    public var brier: Double?
    public var fitSeconds: Double?

    public init(kind: ModelKind, rocAUC: Double, f1: Double, brier: Double?, fitSeconds: Double?) {
        self.kind = kind
        self.rocAUC = rocAUC
        self.f1 = f1
        self.brier = brier
        self.fitSeconds = fitSeconds
    }

    enum CodingKeys: String, CodingKey {
        case kind, rocAUC = "roc_auc", f1, brier, fitSeconds = "fit_seconds"
    }
}

/// One row of the model registry `ml_models`.
public struct ModelRecord: Equatable, Sendable {
    /// Assigned by the registry, increasing, never reused.
    public var version: Int64
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    public var createdAt: String
    public var status: ModelStatus
    /// Why it was rejected, when it was.
    public var reason: String?
    /// The training parameters, a JSON object, as the trainer wrote them.
    public var parameters: String
    public var metrics: ModelMetrics
    /// Fact rows it was trained on.
    public var rowCount: Int64
    /// `TrainingData.fingerprint` of those rows.
    public var dataFingerprint: String
    /// The loader's last batch in the snapshot it was trained on.
    public var watermarkBatch: UInt64
    /// The serialized model; empty when read with `includeBlobs: false`.
    public var model: [UInt8]
    /// What `model` holds (`ml_models.kind`; 'forest' for rows before migration 010).
    public var kind: ModelKind
    /// The risk's calibration map as JSON (`CalibrationMap`), nil for a model served uncalibrated.
    public var calibration: String?

    /// A record with every field given.
    public init(
        version: Int64, createdAt: String, status: ModelStatus, reason: String?, parameters: String,
        metrics: ModelMetrics, rowCount: Int64, dataFingerprint: String, watermarkBatch: UInt64, model: [UInt8],
        kind: ModelKind = .forest, calibration: String? = nil
    ) {
        self.kind = kind
        self.calibration = calibration
        self.version = version
        self.createdAt = createdAt
        self.status = status
        self.reason = reason
        self.parameters = parameters
        self.metrics = metrics
        self.rowCount = rowCount
        self.dataFingerprint = dataFingerprint
        self.watermarkBatch = watermarkBatch
        self.model = model
    }
}

/// A model the trainer has just trained, for `Warehouse.publish`: the registry assigns its
/// version and creation time.
public struct NewModel: Sendable {
    /// The training parameters, a JSON object.
    public var parameters: String
    public var metrics: ModelMetrics
    /// Fact rows it was trained on.
    public var rowCount: Int64
    /// `TrainingData.fingerprint` of those rows.
    public var dataFingerprint: String
    /// `TrainingData.watermark?.batchID` of those rows (0 before any commit).
    public var watermarkBatch: UInt64
    /// The serialized model.
    public var model: [UInt8]
    /// `.serving` (its predictions replace the table) or `.rejected` (only recorded).
    public var status: ModelStatus
    /// Why it was rejected, typically.
    public var reason: String?
    /// What `model` holds.
    public var kind: ModelKind
    /// The risk's calibration map as JSON, or nil.
    public var calibration: String?

    /// A model with every field given.
    public init(
        parameters: String, metrics: ModelMetrics, rowCount: Int64, dataFingerprint: String,
        watermarkBatch: UInt64, model: [UInt8], status: ModelStatus, reason: String? = nil,
        kind: ModelKind = .forest, calibration: String? = nil
    ) {
        self.kind = kind
        self.calibration = calibration
        self.parameters = parameters
        self.metrics = metrics
        self.rowCount = rowCount
        self.dataFingerprint = dataFingerprint
        self.watermarkBatch = watermarkBatch
        self.model = model
        self.status = status
        self.reason = reason
    }
}

extension Warehouse {
    /// Every model in the registry, oldest version first.
    /// - Parameter includeBlobs: false leaves each record's `model` empty (a listing need not
    ///   read megabytes of forests).
    /// - Throws: `WarehouseError.Code.badModelRow` for a row that does not decode, `.database`.
    public func listModels(includeBlobs: Bool = false) throws(WarehouseError) -> [ModelRecord] {
        try models(where: "1", includeBlobs: includeBlobs)
    }

    /// The serving model, blob included, or nil if none serves yet.
    /// - Throws: as `listModels`.
    public func servingModel() throws(WarehouseError) -> ModelRecord? {
        try models(where: "status = 'serving'", includeBlobs: true).last
    }

    /// The rows matching `condition`, by version.
    private func models(where condition: String, includeBlobs: Bool) throws(WarehouseError) -> [ModelRecord] {
        let query = try Self.sqlite(path) { () throws(DatabaseError) in
            try db.prepare("""
                SELECT version, created_at, status, reason, parameters, metrics, row_count, data_fingerprint,
                    watermark_batch, \(includeBlobs ? "model" : "x''"), kind, calibration
                FROM ml_models WHERE \(condition) ORDER BY version
                """)
        }
        defer { query.reset() }
        var records: [ModelRecord] = []
        while try Self.sqlite(path, { () throws(DatabaseError) in try query.step() }) {
            let version = query.int64(at: 0)
            func bad(_ why: String) -> WarehouseError { WarehouseError(.badModelRow("version \(version): \(why)"), path: path) }
            guard let status = ModelStatus(rawValue: query.string(at: 2)) else {
                throw bad("status '\(query.string(at: 2))'")
            }
            let metrics = try Self.decodeMetrics(query.string(at: 5), orThrow: bad)
            guard let kind = ModelKind(rawValue: query.string(at: 10)) else {
                throw bad("kind '\(query.string(at: 10))', expected \(ModelKind.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            let watermarkBatch = query.int64(at: 8)
            guard watermarkBatch >= 0 else { throw bad("watermark_batch is negative (\(watermarkBatch))") }
            records.append(ModelRecord(
                version: version, createdAt: query.string(at: 1), status: status,
                reason: query.isNull(at: 3) ? nil : query.string(at: 3), parameters: query.string(at: 4),
                metrics: metrics, rowCount: query.int64(at: 6), dataFingerprint: query.string(at: 7),
                watermarkBatch: UInt64(watermarkBatch), model: query.blob(at: 9), kind: kind,
                calibration: query.isNull(at: 11) ? nil : query.string(at: 11)))
        }
        return records
    }

    /// The JSON of `metrics`, as `ml_models.metrics` stores it.
    /// - Throws: `WarehouseError.Code.invalidModel` if it does not encode.
    func encodeMetrics(_ metrics: ModelMetrics) throws(WarehouseError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return String(decoding: try encoder.encode(metrics), as: UTF8.self)
        } catch {
            throw WarehouseError(.invalidModel("metrics do not encode as JSON: \(error)"), path: path)
        }
    }

    private static func decodeMetrics(
        _ json: String, orThrow bad: (String) -> WarehouseError
    ) throws(WarehouseError) -> ModelMetrics {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(ModelMetrics.self, from: Data(json.utf8))
        } catch {
            throw bad("metrics do not decode: \(String(describing: error).prefix(200))")
        }
    }

    /// Checks, before any SQL, a model `publish` is asked to store.
    /// - Returns: its metrics as JSON.
    /// - Throws: `WarehouseError.Code.invalidModel` naming the field.
    func validate(_ model: NewModel) throws(WarehouseError) -> String {
        func refuse(_ why: String) -> WarehouseError { WarehouseError(.invalidModel(why), path: path) }
        guard model.status != .retired else { throw refuse("a new model is serving or rejected, not retired") }
        guard model.rowCount >= 0 else { throw refuse("negative row count \(model.rowCount)") }
        guard model.watermarkBatch <= UInt64(Int64.max) else { throw refuse("watermark batch above \(Int64.max)") }
        let parameters = try? JSONSerialization.jsonObject(with: Data(model.parameters.utf8))
        guard parameters is [String: Any] else { throw refuse("parameters are not a JSON object") }
        return try encodeMetrics(model.metrics)
    }
}
