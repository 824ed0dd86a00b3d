/// One bin of a reliability table: the rows whose predicted probability lies in
/// [`lower`, `upper`) (the last bin includes 1), their mean prediction and their observed rate.
public struct ReliabilityBin: Codable, Equatable, Sendable {
    public var lower: Double
    public var upper: Double
    /// Rows in the bin.
    public var count: Int
    /// Their mean predicted probability (0 when empty).
    public var meanPredicted: Double
    /// The fraction of them that failed (0 when empty).
    public var observedRate: Double

    public init(lower: Double, upper: Double, count: Int, meanPredicted: Double, observedRate: Double) {
        self.lower = lower
        self.upper = upper
        self.count = count
        self.meanPredicted = meanPredicted
        self.observedRate = observedRate
    }

    enum CodingKeys: String, CodingKey {
        case lower, upper, count, meanPredicted = "mean_predicted", observedRate = "observed_rate"
    }
}

extension ClassificationMetrics {
    /// The Brier score: the mean of `(score − label)²` (scikit-learn's `brier_score_loss`).
    public static func brier(labels: [UInt8], scores: [Double]) -> Double {
        precondition(labels.count == scores.count && !labels.isEmpty, "\(labels.count) labels for \(scores.count) scores")
        var total = 0.0
        for (label, score) in zip(labels, scores) {
            let error = score - (label != 0 ? 1 : 0)
            total += error * error
        }
        return total / Double(labels.count)
    }

    /// A reliability table of `bins` equal-width bins over [0, 1].
    public static func reliability(labels: [UInt8], scores: [Double], bins: Int = 10) -> [ReliabilityBin] {
        precondition(labels.count == scores.count && bins >= 1, "\(labels.count) labels for \(scores.count) scores, \(bins) bins")
        var counts = [Int](repeating: 0, count: bins), sums = [Double](repeating: 0, count: bins)
        var positives = [Int](repeating: 0, count: bins)
        for (label, score) in zip(labels, scores) {
            let bin = min(bins - 1, max(0, Int(score * Double(bins))))
            counts[bin] += 1
            sums[bin] += score
            positives[bin] += label != 0 ? 1 : 0
        }
        return (0..<bins).map { bin in
            let count = counts[bin]
            return ReliabilityBin(
                lower: Double(bin) / Double(bins), upper: Double(bin + 1) / Double(bins), count: count,
                meanPredicted: count > 0 ? sums[bin] / Double(count) : 0,
                observedRate: count > 0 ? Double(positives[bin]) / Double(count) : 0)
        }
    }
}
