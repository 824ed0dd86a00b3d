/// The training parameters of a boosted-trees model, with scikit-learn's
/// `HistGradientBoostingClassifier` defaults (version 1.2) plus a seed.
///
/// The loss is always binary log-loss and early stopping always scores the validation
/// loss (`scoring='loss'`, scikit-learn's default).
public struct BoostedParameters: Codable, Equatable, Sendable {
    /// When training holds rows back to stop early.
    public enum EarlyStopping: String, Codable, Equatable, Sendable {
        /// On when the training set has more than 10,000 rows (scikit-learn's `'auto'`).
        case auto
        /// Always on.
        case on
        /// Never: every iteration is grown.
        case off

        /// The row count above which `.auto` turns early stopping on.
        public static let autoThreshold = 10_000

        /// Whether early stopping is on for `rowCount` training rows.
        public func isEnabled(rowCount: Int) -> Bool {
            switch self {
            case .auto: rowCount > Self.autoThreshold
            case .on: true
            case .off: false
            }
        }
    }

    /// The shrinkage applied to every leaf value (`learning_rate`).
    public var learningRate: Double
    /// The most boosting iterations, one tree each (`max_iter`).
    public var maxIterations: Int
    /// The most leaves per tree (`max_leaf_nodes`); `nil`: no limit.
    public var maxLeafNodes: Int?
    /// The deepest a leaf may be, the root being depth 0 (`max_depth`); `nil`: no limit.
    public var maxDepth: Int?
    /// The fewest training rows a leaf may hold (`min_samples_leaf`).
    public var minSamplesLeaf: Int
    /// The L2 penalty on leaf values (`l2_regularization`).
    public var l2Regularization: Double
    /// The most bins per feature, at most 255 (`max_bins`).
    public var maxBins: Int
    /// When to hold rows back and stop early (`early_stopping`).
    public var earlyStopping: EarlyStopping
    /// The fraction of the training rows held back, stratified, to stop early (`validation_fraction`).
    public var validationFraction: Double
    /// Stop when none of the last this many iterations improved the validation loss by
    /// more than `tolerance` over the one before them (`n_iter_no_change`).
    public var iterationsWithoutChange: Int
    /// The smallest improvement of the validation loss that counts (`tol`).
    public var tolerance: Double
    /// The seed of every random choice (the validation split, the binning sample).
    public var seed: UInt64

    /// The smallest hessian sum a child may have (scikit-learn's `min_hessian_to_split`).
    public static let minHessianToSplit = 1e-3

    /// Parameters, by default those of `HistGradientBoostingClassifier()`.
    public init(
        learningRate: Double = 0.1,
        maxIterations: Int = 100,
        maxLeafNodes: Int? = 31,
        maxDepth: Int? = nil,
        minSamplesLeaf: Int = 20,
        l2Regularization: Double = 0,
        maxBins: Int = 255,
        earlyStopping: EarlyStopping = .auto,
        validationFraction: Double = 0.1,
        iterationsWithoutChange: Int = 10,
        tolerance: Double = 1e-7,
        seed: UInt64 = 42
    ) {
        self.learningRate = learningRate
        self.maxIterations = maxIterations
        self.maxLeafNodes = maxLeafNodes
        self.maxDepth = maxDepth
        self.minSamplesLeaf = minSamplesLeaf
        self.l2Regularization = l2Regularization
        self.maxBins = maxBins
        self.earlyStopping = earlyStopping
        self.validationFraction = validationFraction
        self.iterationsWithoutChange = iterationsWithoutChange
        self.tolerance = tolerance
        self.seed = seed
    }

    /// Why these parameters cannot train a model, or `nil` when they can.
    public var invalidity: String? {
        if !(learningRate > 0 && learningRate <= 1_000) { return "learning rate \(learningRate) outside (0, 1000]" }
        if maxIterations < 1 || maxIterations > 1_000_000 { return "max iterations \(maxIterations) outside 1...1000000" }
        if let maxLeafNodes, maxLeafNodes < 2 || maxLeafNodes > 1_000_000 { return "max leaf nodes \(maxLeafNodes) outside 2...1000000" }
        if let maxDepth, maxDepth < 1 || maxDepth > 100_000 { return "max depth \(maxDepth) outside 1...100000" }
        if minSamplesLeaf < 1 || minSamplesLeaf > Int(Int32.max) { return "min samples per leaf \(minSamplesLeaf) is not positive" }
        if !(l2Regularization >= 0 && l2Regularization.isFinite) { return "L2 regularization \(l2Regularization) is not a finite non-negative number" }
        if maxBins < 2 || maxBins > BinnedFeatures.maxBinCount { return "max bins \(maxBins) outside 2...\(BinnedFeatures.maxBinCount)" }
        if !(validationFraction > 0 && validationFraction < 1) { return "validation fraction \(validationFraction) outside (0, 1)" }
        if iterationsWithoutChange < 1 || iterationsWithoutChange > 1_000_000 {
            return "iterations without change \(iterationsWithoutChange) outside 1...1000000"
        }
        if !(tolerance >= 0 && tolerance.isFinite) { return "tolerance \(tolerance) is not a finite non-negative number" }
        return nil
    }
}
