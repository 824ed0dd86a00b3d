import Dispatch
import Foundation

/// A random forest of CART classification trees for 0/1 labels: the Swift counterpart of
/// scikit-learn's `RandomForestClassifier(n_estimators=100, class_weight='balanced',
/// random_state=42)`.
///
/// Training bins the features (up to 255 quantile bins each) and grows the trees in
/// parallel on every core; each tree's randomness comes from (seed, tree index) only, so a
/// seed gives the same forest, byte for byte, whatever the thread count.
public struct RandomForest: Sendable, Equatable {
    /// The parameters the forest was trained with.
    public let parameters: ForestParameters
    /// The number of features the forest was trained on (and predicts from).
    public let featureCount: Int
    /// The trees, in index order.
    let trees: [DecisionTree]

    /// The number of trees.
    public var treeCount: Int { trees.count }

    /// A forest of `trees` (decoding and tests).
    init(parameters: ForestParameters, featureCount: Int, trees: [DecisionTree]) {
        self.parameters = parameters
        self.featureCount = featureCount
        self.trees = trees
    }

    /// Trains a forest on `x` and 0/1 `labels` (one per row).
    ///
    /// - Parameters:
    ///   - threadCount: worker threads, by default `ProcessInfo.processInfo.activeProcessorCount`;
    ///     the result does not depend on it.
    ///   - progress: called after each tree with the number of trees done so far, from the
    ///     worker thread that finished it.
    /// - Precondition: valid parameters, at least one row and one feature, labels 0 or 1,
    ///   finite values. Violations are caller bugs and trap.
    public static func fit(
        _ x: FeatureMatrix,
        labels: [UInt8],
        parameters: ForestParameters = ForestParameters(),
        threadCount: Int? = nil,
        progress: (@Sendable (_ treesDone: Int) -> Void)? = nil
    ) -> RandomForest {
        if let invalidity = parameters.invalidity { preconditionFailure("Cannot train a forest: \(invalidity)") }
        precondition(x.rowCount > 0 && x.columnCount > 0, "Cannot train a forest on an empty \(x.rowCount)×\(x.columnCount) matrix")
        precondition(x.rowCount <= Int(UInt32.max), "Cannot train a forest on more than 2³²−1 rows")
        precondition(labels.count == x.rowCount, "\(labels.count) labels for \(x.rowCount) rows")
        precondition(labels.allSatisfy { $0 <= 1 }, "labels must be 0 or 1")
        precondition(x.storage.allSatisfy { $0.isFinite }, "feature values must be finite")

        let binned = BinnedFeatures(x, seed: parameters.seed)
        let grower = TreeGrower(
            binned: binned, labels: labels,
            classWeights: classWeights(labels: labels, mode: parameters.classWeight),
            parameters: parameters,
            candidateCount: parameters.maxFeatures.resolved(featureCount: x.columnCount)
        )
        let treeCount = parameters.treeCount
        let workerCount = max(1, min(threadCount ?? ProcessInfo.processInfo.activeProcessorCount, treeCount))
        let queue = TreeQueue()
        var trees = [DecisionTree](repeating: DecisionTree(), count: treeCount)
        trees.withUnsafeMutableBufferPointer { buffer in
            let output = TreeOutput(trees: buffer)
            DispatchQueue.concurrentPerform(iterations: workerCount) { _ in
                var workspace = TreeGrower.Workspace(rowCount: x.rowCount, featureCount: x.columnCount)
                while let index = queue.take(below: treeCount) {
                    // Each index is taken once, so no two threads write the same slot.
                    output.trees[index] = grower.grow(treeIndex: index, workspace: &workspace).compacted()
                    let done = queue.finish()
                    progress?(done)
                }
            }
        }
        return RandomForest(parameters: parameters, featureCount: x.columnCount, trees: trees)
    }

    /// The class weights `[w0, w1]`: 1 and 1, or balanced as scikit-learn's
    /// `compute_class_weight('balanced')` on the training labels, `n / (k × count_c)` with
    /// `k` the number of classes present.
    static func classWeights(labels: [UInt8], mode: ForestParameters.ClassWeight) -> [Double] {
        guard mode == .balanced else { return [1, 1] }
        let positives = labels.reduce(0) { $0 + Int($1) }
        let counts = [labels.count - positives, positives]
        let classesPresent = Double(counts.filter { $0 > 0 }.count)
        return counts.map { $0 > 0 ? Double(labels.count) / (classesPresent * Double($0)) : 1 }
    }

    /// The probability of class 1 for every row of `x`: the mean over the trees of their
    /// leaf's class-1 fraction (scikit-learn's `predict_proba(x)[:, 1]`).
    public func predictProbability(_ x: FeatureMatrix) -> [Double] {
        precondition(x.columnCount == featureCount, "\(x.columnCount) features, the forest was trained on \(featureCount)")
        let rowCount = x.rowCount
        var sums = [Double](repeating: 0, count: rowCount)
        let chunkSize = 4096
        let chunkCount = (rowCount + chunkSize - 1) / chunkSize
        sums.withUnsafeMutableBufferPointer { sums in
            x.storage.withUnsafeBufferPointer { values in
                let shared = PredictionBuffers(sums: sums, values: values)
                // Rows in chunks across threads; within a row the trees add up in index
                // order, so the result does not depend on the chunking.
                DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                    let rows = chunk * chunkSize ..< min(rowCount, (chunk + 1) * chunkSize)
                    let out = UnsafeMutableBufferPointer(rebasing: shared.sums[rows])
                    for tree in trees {
                        tree.accumulate(values: shared.values, rowCount: rowCount, rows: rows, into: out)
                    }
                }
            }
        }
        let scale = Double(trees.count)
        return sums.map { $0 / scale }
    }

    /// The predicted label of every row of `x`: 1 when its probability is at least `threshold`.
    ///
    /// With the default 0.5 this differs from scikit-learn's `predict` (argmax, ties to
    /// class 0) only for probabilities of exactly 0.5.
    public func predict(_ x: FeatureMatrix, threshold: Double = 0.5) -> [UInt8] {
        predictProbability(x).map { $0 >= threshold ? 1 : 0 }
    }
}

/// Hands out tree indices to worker threads and counts finished trees.
private final class TreeQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var done = 0

    /// The next tree index to grow, or `nil` when all `count` are taken.
    func take(below count: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }

    /// Records a finished tree; returns how many are done.
    func finish() -> Int {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        return done
    }
}

/// The trees' slots, written at distinct indices by the worker threads.
private struct TreeOutput: @unchecked Sendable {
    let trees: UnsafeMutableBufferPointer<DecisionTree>
}

/// Prediction buffers, written at disjoint row ranges by concurrent chunks.
private struct PredictionBuffers: @unchecked Sendable {
    let sums: UnsafeMutableBufferPointer<Double>
    let values: UnsafeBufferPointer<Double>
}
