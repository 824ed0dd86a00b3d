/// The mean of the last up to three values of one reading of one pump, computed exactly as
/// pandas 3.1.1 computes `rolling(3, min_periods=1).mean()` within one `groupby` group.
///
/// pandas (`_libs/window/aggregations.pyx`, `roll_mean`) keeps one running sum per group,
/// started at the group's first row, never recomputed: each new value is added with Kahan
/// compensation (`add_mean`), the value leaving the window is subtracted with a *separate*
/// Kahan compensation (`remove_mean`), and the mean is `sum / count`, overridden by the last
/// value when every value in the window equals it (GH#42064) and clamped to 0 when the sign
/// is impossible (all values non-negative yet the mean negative, or the reverse). The result
/// therefore depends on the pump's whole history, not only on the three values, so the
/// running sum and both compensations are part of the state; with them the outputs match
/// pandas bit for bit (checked against pandas on 400,000 rows of mixed magnitudes, and by the
/// pandas fixture in the tests).
struct RollingMean: Equatable, Sendable {
    /// The window width.
    static let width = 3

    /// The values in the window, oldest first; only the first `count` are meaningful (the rest are 0).
    private(set) var values: (Double, Double, Double) = (0, 0, 0)
    /// How many values the window holds, 0…3.
    private(set) var count = 0
    /// pandas' `sum_x`.
    private(set) var sum: Double = 0
    /// pandas' `compensation_add`.
    private(set) var addCompensation: Double = 0
    /// pandas' `compensation_remove`.
    private(set) var removeCompensation: Double = 0

    /// An empty window.
    init() {}

    /// A window restored from its parts; the caller has checked `count` is 0…3.
    init(values: [Double], sum: Double, addCompensation: Double, removeCompensation: Double) {
        precondition(values.count <= Self.width, "a window of \(values.count) values")
        for value in values { store(value) }
        self.sum = sum
        self.addCompensation = addCompensation
        self.removeCompensation = removeCompensation
    }

    /// The values in the window, oldest first.
    var window: [Double] {
        [values.0, values.1, values.2].prefix(count).map { $0 }
    }

    /// Appends `value` (dropping the oldest of a full window) and returns the window's mean.
    mutating func append(_ value: Double) -> Double {
        if count == Self.width {
            // pandas removes before it adds: `remove_mean` then `add_mean`.
            let y = -values.0 - removeCompensation
            let t = sum + y
            removeCompensation = t - sum - y
            sum = t
            values = (values.1, values.2, 0)
            count -= 1
        }
        let y = value - addCompensation
        let t = sum + y
        addCompensation = t - sum - y
        sum = t
        store(value)
        return mean
    }

    /// `calc_mean`: sum / count, the last value when all are equal to it, 0 for an impossible sign.
    private var mean: Double {
        let last = count == 1 ? values.0 : count == 2 ? values.1 : values.2
        var allEqualLast = true
        var negatives = 0
        for index in 0..<count {
            let value = index == 0 ? values.0 : index == 1 ? values.1 : values.2
            if value != last { allEqualLast = false }
            if value.sign == .minus { negatives += 1 }
        }
        // pandas counts consecutive equal values over the whole history; capped at the window
        // width that count is exactly "every value in the window equals the last".
        if allEqualLast { return last }
        let result = sum / Double(count)
        if negatives == 0 && result < 0 { return 0 }
        if negatives == count && result > 0 { return 0 }
        return result
    }

    private mutating func store(_ value: Double) {
        switch count {
        case 0: values.0 = value
        case 1: values.1 = value
        default: values.2 = value
        }
        count += 1
    }

    /// Identical windows, doubles compared by bit pattern.
    static func == (lhs: RollingMean, rhs: RollingMean) -> Bool {
        lhs.count == rhs.count
            && lhs.window.map(\.bitPattern) == rhs.window.map(\.bitPattern)
            && lhs.sum.bitPattern == rhs.sum.bitPattern
            && lhs.addCompensation.bitPattern == rhs.addCompensation.bitPattern
            && lhs.removeCompensation.bitPattern == rhs.removeCompensation.bitPattern
    }
}
