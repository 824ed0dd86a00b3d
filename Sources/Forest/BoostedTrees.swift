import Dispatch
import Foundation
import PortableRandom

/// A histogram gradient-boosted trees classifier for 0/1 labels: the Swift counterpart of
/// scikit-learn's `HistGradientBoostingClassifier()` with its defaults.
///
/// Binary log-loss; the prediction starts at the log-odds of the training prior and each
/// iteration adds one regression tree grown leaf-wise on the loss's gradients and hessians
/// over quantile-binned features (`BoostedTreeGrower`). With early stopping a stratified
/// `validationFraction` of the rows is held back, and fitting stops when the validation loss
/// has not improved by `tolerance` for `iterationsWithoutChange` iterations. A seed gives the
/// same model, byte for byte, whatever the thread count.
public struct BoostedTrees: Sendable, Equatable {
    /// The parameters the model was trained with.
    public let parameters: BoostedParameters
    /// The number of features the model was trained on (and predicts from).
    public let featureCount: Int
    /// The raw prediction (log-odds) before any tree: the log-odds of the training prior.
    let baseline: Double
    /// One regression tree per iteration; leaves hold shrunk log-odds increments.
    let trees: [DecisionTree]

    /// The number of boosting iterations grown (one tree each).
    public var iterationCount: Int { trees.count }

    /// A model of `trees` (decoding and tests).
    init(parameters: BoostedParameters, featureCount: Int, baseline: Double, trees: [DecisionTree]) {
        self.parameters = parameters
        self.featureCount = featureCount
        self.baseline = baseline
        self.trees = trees
    }

    /// Trains a model on `x` and 0/1 `labels` (one per row), as `RandomForest.fit` trains a
    /// forest; the seed is `parameters.seed`.
    ///
    /// - Parameters:
    ///   - threadCount: threads for histograms, gradients and predictions, by default
    ///     `ProcessInfo.processInfo.activeProcessorCount`; the result does not depend on it.
    ///   - progress: called on the calling thread after each iteration with the number of
    ///     iterations done so far.
    /// - Precondition: valid parameters, at least one row and one feature, labels 0 or 1,
    ///   finite values. Violations are caller bugs and trap.
    public static func fit(
        _ x: FeatureMatrix,
        labels: [UInt8],
        parameters: BoostedParameters = BoostedParameters(),
        threadCount: Int? = nil,
        progress: ((_ iterationsDone: Int) -> Void)? = nil
    ) -> BoostedTrees {
        if let invalidity = parameters.invalidity { preconditionFailure("Cannot train a boosted model: \(invalidity)") }
        precondition(x.rowCount > 0 && x.columnCount > 0, "Cannot train a boosted model on an empty \(x.rowCount)×\(x.columnCount) matrix")
        precondition(x.rowCount <= Int(UInt32.max), "Cannot train a boosted model on more than 2³²−1 rows")
        precondition(labels.count == x.rowCount, "\(labels.count) labels for \(x.rowCount) rows")
        precondition(labels.allSatisfy { $0 <= 1 }, "labels must be 0 or 1")
        precondition(x.storage.allSatisfy { $0.isFinite }, "feature values must be finite")
        let threads = max(1, threadCount ?? ProcessInfo.processInfo.activeProcessorCount)
        let split = holdOut(labels: labels, parameters: parameters)
        // The training rows are only ever read as bins: binned in place, never copied.
        let binned = BinnedFeatures(x, rows: split?.training, maxBins: parameters.maxBins, seed: parameters.seed)
        let trainingLabels = split.map { $0.training.map { labels[$0] } } ?? labels
        let validation = split.map { (x: x.rows($0.validation), labels: $0.validation.map { labels[$0] }) }

        let rowCount = binned.rowCount
        let baseline = priorLogOdds(trainingLabels)
        let grower = BoostedTreeGrower(binned: binned, parameters: parameters, threadCount: threads)
        let workspace = BoostingWorkspace(rowCount: rowCount, featureCount: x.columnCount)
        var raw = [Double](repeating: baseline, count: rowCount)
        var validationRaw = [Double](repeating: baseline, count: validation?.x.rowCount ?? 0)
        // Scores are negated losses, higher is better, the baseline's first (scikit-learn's `validation_score_`).
        var scores = [Double]()
        if let validation { scores.append(-logLoss(raw: validationRaw, labels: validation.labels)) }

        var trees = [DecisionTree]()
        for iteration in 0..<parameters.maxIterations {
            updateGradients(raw: raw, labels: trainingLabels, workspace: workspace, threadCount: threads)
            let (tree, leaves) = grower.grow(workspace: workspace)
            raw.withUnsafeMutableBufferPointer { raw in
                // The leaves' row ranges partition the training rows: each row gets its leaf's value.
                for leaf in leaves {
                    for k in leaf.start..<leaf.end { raw[Int(workspace.rows[k])] += leaf.value }
                }
            }
            trees.append(tree)
            progress?(iteration + 1)
            if let validation {
                accumulate([tree], values: validation.x, into: &validationRaw, threadCount: threads)
                scores.append(-logLoss(raw: validationRaw, labels: validation.labels))
                if shouldStop(scores: scores, parameters: parameters) { break }
            }
        }
        return BoostedTrees(parameters: parameters, featureCount: x.columnCount, baseline: baseline, trees: trees)
    }

    /// When early stopping is on, the rows to train on and the stratified `validationFraction`
    /// held back to score it (seeded by `parameters.seed`), each in ascending order; else nil.
    static func holdOut(labels: [UInt8], parameters: BoostedParameters) -> (training: [Int], validation: [Int])? {
        guard parameters.earlyStopping.isEnabled(rowCount: labels.count) else { return nil }
        let split = ClassificationMetrics.stratifiedSplit(
            labels: labels, testFraction: parameters.validationFraction,
            seed: SplitMix64.mix(parameters.seed ^ RandomStream.boostedValidation))
        guard !split.train.isEmpty && !split.test.isEmpty else { return nil }
        return (split.train, split.test)
    }

    /// The probability of class 1 for every row of `x`: the logistic of the baseline plus
    /// every tree's leaf value (scikit-learn's `predict_proba(x)[:, 1]`).
    /// - Precondition: `x` has `featureCount` columns.
    public func predictProbability(_ x: FeatureMatrix) -> [Double] {
        predictLogOdds(x).map { 1 / (1 + exp(-$0)) }
    }

    /// The predicted label of every row of `x`: 1 when its probability is at least `threshold`.
    ///
    /// With the default 0.5 this is scikit-learn's `predict` but for probabilities of exactly 0.5.
    public func predict(_ x: FeatureMatrix, threshold: Double = 0.5) -> [UInt8] {
        predictProbability(x).map { $0 >= threshold ? 1 : 0 }
    }

    /// The raw prediction (log-odds of class 1) of every row of `x`: the baseline plus every
    /// tree's leaf value (scikit-learn's `decision_function`), what Platt scaling calibrates.
    /// - Precondition: `x` has `featureCount` columns.
    public func predictLogOdds(_ x: FeatureMatrix) -> [Double] {
        precondition(x.columnCount == featureCount, "\(x.columnCount) features, the model was trained on \(featureCount)")
        var raw = [Double](repeating: baseline, count: x.rowCount)
        Self.accumulate(trees, values: x, into: &raw, threadCount: ProcessInfo.processInfo.activeProcessorCount)
        return raw
    }

    /// Adds every tree's leaf value for every row of `x` to `raw`, the trees in order within a row.
    static func accumulate(_ trees: [DecisionTree], values x: FeatureMatrix, into raw: inout [Double], threadCount: Int) {
        let rowCount = x.rowCount
        let chunkSize = 4096
        let chunkCount = (rowCount + chunkSize - 1) / chunkSize
        raw.withUnsafeMutableBufferPointer { sums in
            x.storage.withUnsafeBufferPointer { values in
                let shared = RawBuffers(sums: sums, values: values)
                // Rows in chunks across threads: each row's sum does not depend on the chunking.
                let work: @Sendable (Int) -> Void = { chunk in
                    let rows = chunk * chunkSize ..< min(rowCount, (chunk + 1) * chunkSize)
                    let out = UnsafeMutableBufferPointer(rebasing: shared.sums[rows])
                    for tree in trees {
                        tree.accumulate(values: shared.values, rowCount: rowCount, rows: rows, into: out)
                    }
                }
                // A thread hand-off costs more than walking a tree for a few thousand rows (the
                // validation rows after each iteration).
                if threadCount > 1 && chunkCount > 1 && rowCount * trees.count >= 65_536 {
                    DispatchQueue.concurrentPerform(iterations: chunkCount, execute: work)
                } else {
                    for chunk in 0..<chunkCount { work(chunk) }
                }
            }
        }
    }

    /// The log-odds of the share of 1s, the share clipped to [ε, 1 − ε] (scikit-learn's
    /// `HalfBinomialLoss.fit_intercept_only`), so that a single class gives a finite baseline.
    static func priorLogOdds(_ labels: [UInt8]) -> Double {
        let positives = labels.reduce(0) { $0 + Int($1) }
        let share = min(max(Double(positives) / Double(labels.count), Double.ulpOfOne), 1 - Double.ulpOfOne)
        return log(share / (1 - share))
    }

    /// The mean binary log-loss of log-odds `raw` against `labels`: `log(1 + eʳ) − y r`, stably.
    static func logLoss(raw: [Double], labels: [UInt8]) -> Double {
        var sum = 0.0
        for (r, y) in zip(raw, labels) {
            sum += max(r, 0) + log1p(exp(-abs(r))) - (y != 0 ? r : 0)
        }
        return sum / Double(max(1, raw.count))
    }

    /// Whether none of the last `iterationsWithoutChange` scores beats the one before them
    /// by more than `tolerance` (scikit-learn's `_should_stop`).
    static func shouldStop(scores: [Double], parameters: BoostedParameters) -> Bool {
        let reference = parameters.iterationsWithoutChange + 1
        guard scores.count >= reference else { return false }
        let referenceScore = scores[scores.count - reference] + parameters.tolerance
        return !scores[(scores.count - reference + 1)...].contains { $0 > referenceScore }
    }

    /// The gradient `p − y` and hessian `p (1 − p)` of the log-loss at every row, `p` the
    /// logistic of `raw`.
    static func updateGradients(raw: [Double], labels: [UInt8], workspace: BoostingWorkspace, threadCount: Int) {
        let rowCount = raw.count
        // One chunk per thread (rows are independent): fewer chunks than threads idles a
        // core, one more makes a thread do two.
        let chunkCount = rowCount >= 32_768 ? threadCount : 1
        let chunkSize = (rowCount + chunkCount - 1) / chunkCount
        raw.withUnsafeBufferPointer { raw in
            labels.withUnsafeBufferPointer { labels in
                let shared = GradientBuffers(raw: raw, labels: labels,
                                             gradients: workspace.gradients, hessians: workspace.hessians)
                let work: @Sendable (Int) -> Void = { chunk in
                    for row in min(rowCount, chunk * chunkSize) ..< min(rowCount, (chunk + 1) * chunkSize) {
                        let p = 1 / (1 + exp(-shared.raw[row]))
                        shared.gradients[row] = Float(p - Double(shared.labels[row]))
                        shared.hessians[row] = Float(p * (1 - p))
                    }
                }
                if threadCount > 1 && chunkCount > 1 {
                    DispatchQueue.concurrentPerform(iterations: chunkCount, execute: work)
                } else {
                    for chunk in 0..<chunkCount { work(chunk) }
                }
            }
        }
    }
}

extension RandomStream {
    /// The stratified validation split of a boosted fit.
    static let boostedValidation: UInt64 = 0xF0_4E57_00B1
}

/// Raw-prediction buffers, written at disjoint row ranges by concurrent chunks.
private struct RawBuffers: @unchecked Sendable {
    let sums: UnsafeMutableBufferPointer<Double>
    let values: UnsafeBufferPointer<Double>
}

/// Gradient buffers, written at disjoint row ranges by concurrent chunks.
private struct GradientBuffers: @unchecked Sendable {
    let raw: UnsafeBufferPointer<Double>
    let labels: UnsafeBufferPointer<UInt8>
    let gradients: UnsafeMutableBufferPointer<Float>
    let hessians: UnsafeMutableBufferPointer<Float>
}
