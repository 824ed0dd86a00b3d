import Foundation

/// The training parameters of a forest, with scikit-learn's `RandomForestClassifier`
/// defaults plus `class_weight='balanced'` and `random_state=42`.
public struct ForestParameters: Codable, Equatable, Sendable {
    /// How many features each split considers.
    public enum MaxFeatures: Codable, Equatable, Sendable {
        /// `max(1, Int(sqrt(n)))`, scikit-learn's `"sqrt"` (the default).
        case sqrt
        /// `max(1, Int(log2(n)))`, scikit-learn's `"log2"`.
        case log2
        /// Every feature (a bagged tree ensemble).
        case all
        /// A fixed count, clamped to `1...n`.
        case count(Int)

        /// The number of candidate features per split among `featureCount`.
        public func resolved(featureCount: Int) -> Int {
            let n = Double(featureCount)
            let count: Int
            switch self {
            case .sqrt: count = Int(n.squareRoot())
            case .log2: count = featureCount > 0 ? Int(Foundation.log2(n)) : 0
            case .all: count = featureCount
            case .count(let k): count = k
            }
            return Swift.min(Swift.max(1, count), Swift.max(1, featureCount))
        }
    }

    /// How samples of each class are weighted.
    public enum ClassWeight: String, Codable, Equatable, Sendable {
        /// `n_samples / (n_classes × count_c)`, as scikit-learn's `compute_class_weight('balanced')`.
        case balanced
        /// Every sample weighs 1.
        case none
    }

    /// The number of trees.
    public var treeCount: Int
    /// The maximum depth of a tree (the root is depth 0); `nil` grows until the leaves are pure.
    public var maxDepth: Int?
    /// The fewest (distinct) training samples a leaf may hold.
    public var minSamplesLeaf: Int
    /// The fewest (distinct) training samples a node needs to be split.
    public var minSamplesSplit: Int
    /// The number of candidate features per split.
    public var maxFeatures: MaxFeatures
    /// Whether each tree trains on a bootstrap sample (weights = draw counts).
    public var bootstrap: Bool
    /// The class weighting.
    public var classWeight: ClassWeight
    /// The seed of every random choice.
    public var seed: UInt64

    /// Parameters, by default those of the original model.
    public init(
        treeCount: Int = 100,
        maxDepth: Int? = nil,
        minSamplesLeaf: Int = 1,
        minSamplesSplit: Int = 2,
        maxFeatures: MaxFeatures = .sqrt,
        bootstrap: Bool = true,
        classWeight: ClassWeight = .balanced,
        seed: UInt64 = 42
    ) {
        self.treeCount = treeCount
        self.maxDepth = maxDepth
        self.minSamplesLeaf = minSamplesLeaf
        self.minSamplesSplit = minSamplesSplit
        self.maxFeatures = maxFeatures
        self.bootstrap = bootstrap
        self.classWeight = classWeight
        self.seed = seed
    }

    /// Why these parameters cannot train a forest, or `nil` when they can.
    public var invalidity: String? {
        if treeCount < 1 || treeCount > 1_000_000 { return "tree count \(treeCount) outside 1...1000000" }
        if let maxDepth, maxDepth < 1 || maxDepth > 100_000 { return "max depth \(maxDepth) outside 1...100000" }
        if minSamplesLeaf < 1 || minSamplesLeaf > Int(Int32.max) { return "min samples per leaf \(minSamplesLeaf) is not positive" }
        if minSamplesSplit < 2 || minSamplesSplit > Int(Int32.max) { return "min samples to split \(minSamplesSplit) is below 2" }
        if case .count(let k) = maxFeatures, k < 1 || k > Int(Int32.max) { return "max features \(k) is not positive" }
        return nil
    }
}
