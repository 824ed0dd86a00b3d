import PortableRandom

/// Binary-classification metrics as scikit-learn computes them, and a stratified split.
public enum ClassificationMetrics {
    /// The area under the ROC curve of `scores` for 0/1 `labels`: the Mann–Whitney U
    /// statistic over `positives × negatives`, tied scores counting their average rank
    /// (so a tie between a positive and a negative counts one half), as scikit-learn's
    /// `roc_auc_score`. NaN when either class is absent (scikit-learn raises).
    public static func rocAUC(labels: [UInt8], scores: [Double]) -> Double {
        precondition(labels.count == scores.count, "\(labels.count) labels for \(scores.count) scores")
        let positives = labels.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
            // Ranks start + 1 ... end share their mean.
            let averageRank = Double(start + 1 + end) / 2
            for k in start..<end where labels[order[k]] != 0 { positiveRankSum += averageRank }
            start = end
        }
        let p = Double(positives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }

    /// The confusion counts of 0/1 `predictions` against 0/1 `labels`.
    public static func confusion(labels: [UInt8], predictions: [UInt8]) -> (tn: Int, fp: Int, fn: Int, tp: Int) {
        precondition(labels.count == predictions.count, "\(labels.count) labels for \(predictions.count) predictions")
        var counts = (tn: 0, fp: 0, fn: 0, tp: 0)
        for (label, prediction) in zip(labels, predictions) {
            switch (label != 0, prediction != 0) {
            case (false, false): counts.tn += 1
            case (false, true): counts.fp += 1
            case (true, false): counts.fn += 1
            case (true, true): counts.tp += 1
            }
        }
        return counts
    }

    /// `tp / (tp + fp)`, 0 when nothing is predicted positive (`zero_division=0`).
    public static func precision(labels: [UInt8], predictions: [UInt8]) -> Double {
        let c = confusion(labels: labels, predictions: predictions)
        return c.tp + c.fp > 0 ? Double(c.tp) / Double(c.tp + c.fp) : 0
    }

    /// `tp / (tp + fn)`, 0 when there are no positives (`zero_division=0`).
    public static func recall(labels: [UInt8], predictions: [UInt8]) -> Double {
        let c = confusion(labels: labels, predictions: predictions)
        return c.tp + c.fn > 0 ? Double(c.tp) / Double(c.tp + c.fn) : 0
    }

    /// `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall; 0 when undefined.
    public static func f1(labels: [UInt8], predictions: [UInt8]) -> Double {
        let c = confusion(labels: labels, predictions: predictions)
        let denominator = 2 * c.tp + c.fp + c.fn
        return denominator > 0 ? Double(2 * c.tp) / Double(denominator) : 0
    }

    /// A stratified train/test split of row indices: per class, the class's rows are
    /// shuffled with `seed` and the first `round(count × testFraction)` go to test. Both
    /// lists come back in ascending order; the same labels and seed give the same split.
    public static func stratifiedSplit(
        labels: [UInt8], testFraction: Double = 0.2, seed: UInt64
    ) -> (train: [Int], test: [Int]) {
        precondition(testFraction >= 0 && testFraction <= 1, "test fraction \(testFraction) outside 0...1")
        var train = [Int]()
        var test = [Int]()
        for label: UInt8 in [0, 1] {
            var rows = labels.indices.filter { (labels[$0] != 0 ? 1 : 0) == label }
            var random = SplitMix64(seed: seed, stream: RandomStream.split, index: UInt64(label))
            random.shuffle(&rows)
            let testCount = Int((Double(rows.count) * testFraction).rounded())
            test.append(contentsOf: rows[..<testCount])
            train.append(contentsOf: rows[testCount...])
        }
        return (train.sorted(), test.sorted())
    }
}
