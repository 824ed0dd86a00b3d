/// A monotone map from a model's score to a calibrated probability: isotonic regression (pool
/// adjacent violators) of 0/1 labels on scores, predicted by linear interpolation between its
/// points and clipped at the ends — scikit-learn's `IsotonicRegression(out_of_bounds='clip',
/// y_min=0, y_max=1)`, as `CalibratedClassifierCV(method='isotonic')` uses it.
///
/// Fitted on held-out scores (for the forest, each training row's out-of-bag score), it turns
/// balanced-class-weight scores, which overstate the risk of the rare class, into frequencies.
public struct IsotonicCalibration: Codable, Equatable, Sendable {
    /// Ascending scores; each block of the fit contributes its lowest and highest score.
    public let thresholds: [Double]
    /// The calibrated probability at each threshold, non-decreasing, in [0, 1].
    public let values: [Double]

    /// A map with the given points (decoding, tests).
    /// - Precondition: as many values as thresholds, at least one, thresholds ascending.
    public init(thresholds: [Double], values: [Double]) {
        precondition(!thresholds.isEmpty && thresholds.count == values.count, "\(thresholds.count) thresholds, \(values.count) values")
        self.thresholds = thresholds
        self.values = values
    }

    /// Why these points are not a calibration map, or nil when they are (checks decoded JSON).
    public var invalidity: String? {
        guard !thresholds.isEmpty, thresholds.count == values.count else {
            return "\(thresholds.count) thresholds and \(values.count) values"
        }
        for index in thresholds.indices {
            guard thresholds[index].isFinite, values[index] >= 0, values[index] <= 1 else {
                return "point \(index) (\(thresholds[index]), \(values[index])) is not finite or outside [0, 1]"
            }
            if index > 0, thresholds[index] < thresholds[index - 1] || values[index] < values[index - 1] {
                return "point \(index) decreases"
            }
        }
        return nil
    }

    /// Fits the map on `scores` and their 0/1 `labels`.
    /// - Precondition: at least one score, as many labels, finite scores.
    public static func fit(scores: [Double], labels: [UInt8]) -> IsotonicCalibration {
        precondition(!scores.isEmpty && scores.count == labels.count, "\(scores.count) scores for \(labels.count) labels")
        let order = scores.indices.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        // Blocks: (lowest score, highest score, label sum, count). Equal scores start as one block.
        var low: [Double] = [], high: [Double] = [], sum: [Double] = [], count: [Double] = []
        for row in order {
            let score = scores[row]
            let label = labels[row] != 0 ? 1.0 : 0.0
            if let last = high.last, last == score {
                sum[sum.count - 1] += label
                count[count.count - 1] += 1
            } else {
                low.append(score); high.append(score); sum.append(label); count.append(1)
            }
            // Pool while the last block's mean is below its predecessor's.
            while sum.count >= 2 {
                let k = sum.count - 1
                guard sum[k] * count[k - 1] < sum[k - 1] * count[k] else { break }
                sum[k - 1] += sum[k]; count[k - 1] += count[k]; high[k - 1] = high[k]
                low.removeLast(); high.removeLast(); sum.removeLast(); count.removeLast()
            }
        }
        var thresholds: [Double] = [], values: [Double] = []
        for block in sum.indices {
            let value = sum[block] / count[block]
            thresholds.append(low[block]); values.append(value)
            if high[block] > low[block] { thresholds.append(high[block]); values.append(value) }
        }
        return IsotonicCalibration(thresholds: thresholds, values: values)
    }

    /// The calibrated probability of `score`.
    public func apply(_ score: Double) -> Double {
        if score <= thresholds[0] { return values[0] }
        if score >= thresholds[thresholds.count - 1] { return values[values.count - 1] }
        // The first threshold above the score (binary search); the score lies in [t[i-1], t[i]).
        var lowIndex = 0
        var highIndex = thresholds.count - 1
        while lowIndex < highIndex {
            let middle = (lowIndex + highIndex) >> 1
            if thresholds[middle] <= score { lowIndex = middle + 1 } else { highIndex = middle }
        }
        let x0 = thresholds[lowIndex - 1], x1 = thresholds[lowIndex]
        let y0 = values[lowIndex - 1], y1 = values[lowIndex]
        return y0 + (y1 - y0) * (score - x0) / (x1 - x0)
    }

    /// The calibrated probability of every score.
    public func apply(_ scores: [Double]) -> [Double] { scores.map(apply) }
}
