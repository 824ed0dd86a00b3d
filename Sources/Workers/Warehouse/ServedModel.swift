import Forest
import Foundation

/// A registered model ready to score: its trees and its risk calibration, the one way CIDP turns
/// features into the risk it publishes. The trainer computes `ai_telemetry_predictions` through
/// it and the predictor answers through it, so both say the same for the same rows.
///
/// The scoring contract every model kind keeps: `scores` (and `riskProbabilities`,
/// `predictedFailures`) take the six features in `TrainingData.featureNames` order. The risk is
/// the model's probability mapped through the calibration (isotonic, fitted on held-out scores:
/// `ml_models.calibration`), rounded as `ai_risk_score_percent` stores it (two decimals of a
/// percent); the predicted flag is the model's own decision, its uncalibrated probability ≥ 0.5
/// (the original's `predict`, `ai_predicted_failure`), so a row may be flagged with a risk well
/// under 0.5.
public struct ServedModel: Sendable {
    /// One row's score: what `ai_telemetry_predictions` holds for it.
    public struct Score: Equatable, Sendable {
        /// The calibrated risk, 0…1: `ai_risk_score_percent / 100`.
        public let risk: Double
        /// The model's decision, 0 or 1: `ai_predicted_failure`.
        public let predictedFailure: UInt8
    }

    /// The registry version (0 for a model not yet registered: the trainer's candidate).
    public let version: Int64
    /// What kind of model scores.
    public let kind: ModelKind
    let scorer: Scorer
    /// nil: the risk is the model's probability itself (models registered before calibration).
    let calibration: IsotonicCalibration?

    /// The fitted model behind a `ServedModel`.
    enum Scorer: Sendable {
        case forest(RandomForest)
        case boosted(BoostedTrees)
    }

    /// The model of `record`, which must have been read with its blob (`servingModel()`,
    /// `listModels(includeBlobs: true)`).
    /// - Throws: `WarehouseError.Code.badModelRow` when the blob or the calibration does not decode.
    public init(record: ModelRecord) throws(WarehouseError) {
        func bad(_ why: String) -> WarehouseError {
            WarehouseError(.badModelRow("version \(record.version): \(why)"), path: "ml_models")
        }
        switch record.kind {
        case .forest:
            do {
                scorer = .forest(try RandomForest(decoding: record.model))
            } catch {
                throw bad("the forest does not decode: \(error)")
            }
        case .boosted:
            do {
                scorer = .boosted(try BoostedTrees(decoding: record.model))
            } catch {
                throw bad("the boosted model does not decode: \(error)")
            }
        }
        if let json = record.calibration {
            guard let map = CalibrationMap.decode(json) else { throw bad("the calibration is not a calibration map") }
            if let invalidity = map.isotonic.invalidity { throw bad("the calibration is invalid: \(invalidity)") }
            calibration = map.isotonic
        } else {
            calibration = nil
        }
        version = record.version
        kind = record.kind
    }

    /// A model not yet registered (the trainer's candidate).
    init(version: Int64 = 0, scorer: Scorer, calibration: IsotonicCalibration?) {
        self.version = version
        self.scorer = scorer
        switch scorer {
        case .forest: kind = .forest
        case .boosted: kind = .boosted
        }
        self.calibration = calibration
    }

    /// The rows scored between two calls of a scoring call's `progress`.
    public static let progressRows = 65_536

    /// The model's own probability of failure per row, uncalibrated.
    ///
    /// Rows are scored `progressRows` at a time, `progress` called after each slice with the
    /// rows done: a forest grown on a million noisy rows takes tens of seconds to score them all
    /// on a loaded machine, and its caller's heartbeats must not wait for the end. A row's score
    /// does not depend on the slicing.
    public func modelProbabilities(_ x: FeatureMatrix, progress: (_ rowsDone: Int) -> Void = { _ in }) -> [Double] {
        guard x.rowCount > Self.progressRows else {
            defer { progress(x.rowCount) }
            return probabilities(of: x)
        }
        var probabilities = [Double]()
        probabilities.reserveCapacity(x.rowCount)
        for start in stride(from: 0, to: x.rowCount, by: Self.progressRows) {
            let slice = x.rows(Array(start..<min(x.rowCount, start + Self.progressRows)))
            probabilities += self.probabilities(of: slice)
            progress(probabilities.count)
        }
        return probabilities
    }

    private func probabilities(of x: FeatureMatrix) -> [Double] {
        switch scorer {
        case .forest(let forest): forest.predictProbability(x)
        case .boosted(let boosted): boosted.predictProbability(x)
        }
    }

    /// The calibrated risk per row, exactly what `ai_risk_score_percent / 100` holds for them.
    public func riskProbabilities(_ x: FeatureMatrix) -> [Double] {
        risk(fromModelProbabilities: modelProbabilities(x))
    }

    /// The risk and the decision per row, scoring each row once: exactly the row of
    /// `ai_telemetry_predictions` the trainer publishes for the same features. `progress` as
    /// in `modelProbabilities`.
    public func scores(_ x: FeatureMatrix, progress: (_ rowsDone: Int) -> Void = { _ in }) -> [Score] {
        let probabilities = modelProbabilities(x, progress: progress)
        return zip(risk(fromModelProbabilities: probabilities), Self.flags(fromModelProbabilities: probabilities)).map {
            Score(risk: $0, predictedFailure: $1)
        }
    }

    /// The risk of model probabilities already computed (the trainer scores once for both).
    public func risk(fromModelProbabilities probabilities: [Double]) -> [Double] {
        probabilities.map { probability in
            let calibrated = calibration.map { $0.apply(probability) } ?? probability
            return Warehouse.riskPercent(min(1, max(0, calibrated))) / 100
        }
    }

    /// The predicted flag per row, `ai_predicted_failure`: the model's probability ≥ 0.5.
    public func predictedFailures(_ x: FeatureMatrix) -> [UInt8] {
        Self.flags(fromModelProbabilities: modelProbabilities(x))
    }

    static func flags(fromModelProbabilities probabilities: [Double]) -> [UInt8] {
        probabilities.map { $0 >= 0.5 ? 1 : 0 }
    }
}

/// `ml_models.calibration`: `{"method":"isotonic","fitted_on":"…","thresholds":[…],"values":[…]}`.
struct CalibrationMap: Codable, Equatable {
    var method = "isotonic"
    /// Which held-out scores it was fitted on, in words.
    var fittedOn: String
    var thresholds: [Double]
    var values: [Double]

    enum CodingKeys: String, CodingKey {
        case method, fittedOn = "fitted_on", thresholds, values
    }

    init(_ isotonic: IsotonicCalibration, fittedOn: String) {
        self.fittedOn = fittedOn
        thresholds = isotonic.thresholds
        values = isotonic.values
    }

    var isotonic: IsotonicCalibration {
        thresholds.isEmpty || thresholds.count != values.count
            ? IsotonicCalibration(thresholds: [0], values: [.nan]) // invalid: `invalidity` names it
            : IsotonicCalibration(thresholds: thresholds, values: values)
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decode(_ json: String) -> CalibrationMap? {
        guard let map = try? JSONDecoder().decode(CalibrationMap.self, from: Data(json.utf8)), map.method == "isotonic" else {
            return nil
        }
        return map
    }
}
