import Forest

/// The serving model as the predictor scores with it: decoded once from its registry row.
///
/// The scoring contract every model kind keeps: `riskProbabilities` takes the six features in
/// `TrainingData.featureNames` order and returns one risk probability (0…1) per row, the same
/// numbers the trainer publishes in `ai_telemetry_predictions.ai_risk_score_percent` / 100.
public struct ServedModel: Sendable {
    /// `ml_models.version`.
    public let version: Int64
    private let forest: RandomForest

    /// Decodes the record's model blob.
    /// - Throws: `WarehouseError.Code.invalidModel` naming the version when the blob is not a model.
    public init(record: ModelRecord) throws(WarehouseError) {
        version = record.version
        do {
            forest = try RandomForest(decoding: record.model)
        } catch {
            throw WarehouseError(.invalidModel("model version \(record.version) does not decode: \(error)"), path: "ml_models")
        }
    }

    /// One risk probability per row of `x`.
    public func riskProbabilities(_ x: FeatureMatrix) -> [Double] {
        forest.predictProbability(x)
    }
}
