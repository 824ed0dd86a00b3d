/// What the trainer and the predictor need of a failure model, whatever its kind: the
/// probability of failure per row, and its serialized form.
public protocol FailureModel: Sendable {
    /// The kind of model, stored beside its blob (`ml_models.kind`).
    static var kind: ModelKind { get }
    /// The number of features the model was trained on (and predicts from).
    var featureCount: Int { get }
    /// The probability of class 1 (failure) for every row of `x`.
    /// - Precondition: `x` has `featureCount` columns.
    func predictProbability(_ x: FeatureMatrix) -> [Double]
    /// The model in its versioned binary format, which starts with its kind's magic bytes.
    func encoded() -> [UInt8]
}

extension RandomForest: FailureModel {
    public static var kind: ModelKind { .forest }
}

extension BoostedTrees: FailureModel {
    public static var kind: ModelKind { .boosted }
}

extension ModelKind {
    /// Decodes a blob that should hold a model of this kind.
    /// - Throws: `ForestError` naming the first problem and its byte offset; a blob of the
    ///   other kind is `.badMagic`, never decoded.
    public func decode(_ bytes: [UInt8]) throws(ForestError) -> any FailureModel {
        switch self {
        case .forest: try RandomForest(decoding: bytes)
        case .boosted: try BoostedTrees(decoding: bytes)
        }
    }
}
