import PortableRandom
import Pipeline
import Wire

/// What "normal" data looks like, for the batch gate's drift check: per reading, quantile bins
/// over trusted records and the share of those records in each bin.
///
/// It is built from the first `referenceRecords` valid records of batches that passed every
/// gate, in stream order (`collect(_:target:bins:)`), then frozen: the raw values are replaced
/// by the bins and counts, and never change again. Until then (`isComplete == false`) drift
/// is not judged. The state is exact: it travels in `TransformerState`'s encoding bit for bit.
public struct ReferenceProfile: Equatable, Sendable {
    /// The readings profiled, in this order everywhere (encoding included).
    public static let readings: [Reading] = Reading.allCases

    enum Phase: Equatable, Sendable {
        /// Values collected so far, per reading in `readings` order, records in stream order.
        case building([[Double]])
        /// The frozen profile, per reading in `readings` order.
        case complete([FeatureBins])
    }

    private(set) var phase: Phase

    /// An empty profile: nothing collected yet.
    public init() {
        phase = .building(Array(repeating: [], count: Self.readings.count))
    }

    init(phase: Phase) {
        self.phase = phase
    }

    /// Whether the profile is frozen (drift is judged against it).
    public var isComplete: Bool {
        if case .complete = phase { return true }
        return false
    }

    /// Records collected so far, or the records the frozen profile was made of.
    public var recordCount: Int {
        switch phase {
        case .building(let values): values[0].count
        case .complete(let bins): bins[0].total
        }
    }

    /// The frozen bins of `reading`; nil while building.
    public func bins(of reading: Reading) -> FeatureBins? {
        guard case .complete(let bins) = phase else { return nil }
        return bins[Self.readings.firstIndex(of: reading)!]
    }

    /// Adds `records` in order until `target` records are collected, then freezes the profile
    /// into `bins` quantile bins per reading. A complete profile is left as it is.
    /// - Precondition: `target >= 1`, `bins >= 2`, every reading finite (valid records only).
    public mutating func collect(_ records: some Collection<TelemetryRecord>, target: Int, bins: Int) {
        guard case .building(var values) = phase else { return }
        let wanted = max(0, target - values[0].count)
        if wanted > 0, !records.isEmpty {
            // Free the storage shared with `phase` so the appends below do not copy it.
            phase = .building([])
            for record in records.prefix(wanted) {
                for (index, reading) in Self.readings.enumerated() { values[index].append(reading.value(in: record)) }
            }
        }
        if values[0].count >= target {
            phase = .complete(values.map { FeatureBins(values: $0.prefix(target), bins: bins) })
        } else {
            phase = .building(values)
        }
    }

    /// Identical phase, doubles compared by bit pattern.
    public static func == (lhs: ReferenceProfile, rhs: ReferenceProfile) -> Bool {
        switch (lhs.phase, rhs.phase) {
        case (.building(let a), .building(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.map(\.bitPattern) == $1.map(\.bitPattern) }
        case (.complete(let a), .complete(let b)):
            a == b
        default:
            false
        }
    }
}

/// One reading's frozen reference: bin edges and the reference records per bin.
///
/// Bin `i` holds the values `x` with `edges[i-1] < x <= edges[i]` (the first bin has no lower
/// bound, the last no upper one), so a value equal to an edge always falls in the lower bin and
/// ties never straddle two bins. The edges are the `k/bins` quantiles of the reference values
/// (the smallest value with at least `k/bins` of the values at or below it), with repeats
/// removed: a reading with heavy ties gets fewer, still well-defined bins, and the expected
/// proportions are the counted ones, not `1/bins`.
public struct FeatureBins: Equatable, Sendable {
    /// Strictly increasing, finite.
    public let edges: [Double]
    /// Reference records per bin, `edges.count + 1` of them.
    public let counts: [Int]

    /// The floor on both proportions in the PSI, so an empty bin gives a large, finite term.
    public static let proportionFloor = 1e-4

    /// Bins restored from their parts; the caller has checked edges and counts.
    init(edges: [Double], counts: [Int]) {
        precondition(counts.count == edges.count + 1, "\(counts.count) counts for \(edges.count) edges")
        self.edges = edges
        self.counts = counts
    }

    /// Quantile bins over `values`.
    /// - Precondition: at least one value, all finite; `bins >= 2`.
    public init(values: some Collection<Double>, bins: Int) {
        precondition(!values.isEmpty && bins >= 2, "\(values.count) values in \(bins) bins")
        let sorted = values.sorted()
        let n = sorted.count
        var edges: [Double] = []
        for k in 1..<bins {
            // The smallest value with at least k/bins of the values at or below it.
            let edge = sorted[(k * n + bins - 1) / bins - 1]
            if edges.last.map({ $0 < edge }) ?? true { edges.append(edge) }
        }
        // The top edge would be the maximum: everything would sit at or below it and the last bin
        // would stay empty, so drop it.
        if edges.last == sorted.last { edges.removeLast() }
        self.edges = edges
        var counts = [Int](repeating: 0, count: edges.count + 1)
        for value in sorted { counts[Self.bin(of: value, edges: edges)] += 1 }
        self.counts = counts
    }

    /// Records the reference was made of.
    public var total: Int { counts.reduce(0, +) }

    /// The bin of `value`: how many edges lie strictly below it.
    public func bin(of value: Double) -> Int {
        Self.bin(of: value, edges: edges)
    }

    static func bin(of value: Double, edges: [Double]) -> Int {
        var low = 0
        var high = edges.count
        while low < high {
            let middle = (low + high) / 2
            if edges[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The PSI of `values` (per bin counts) against the reference.
    public func populationStabilityIndex(of values: some Collection<Double>) -> Double {
        var actual = [Int](repeating: 0, count: counts.count)
        for value in values { actual[bin(of: value)] += 1 }
        return Self.populationStabilityIndex(actual: actual, expected: counts)
    }

    /// Σ (a − e) · ln(a / e) over the bins, with `a` and `e` the proportions of `actual` and
    /// `expected` counts, each floored at `proportionFloor`. The logarithm is
    /// `SplitMix64.portableLog`, so the value is the same on every machine.
    /// - Precondition: the same number of bins, each total above zero.
    public static func populationStabilityIndex(actual: [Int], expected: [Int]) -> Double {
        precondition(actual.count == expected.count, "\(actual.count) actual bins for \(expected.count) expected")
        let actualTotal = Double(actual.reduce(0, +))
        let expectedTotal = Double(expected.reduce(0, +))
        precondition(actualTotal > 0 && expectedTotal > 0, "an empty distribution")
        var psi = 0.0
        for (a, e) in zip(actual, expected) {
            let p = max(Double(a) / actualTotal, proportionFloor)
            let q = max(Double(e) / expectedTotal, proportionFloor)
            psi += (p - q) * SplitMix64.portableLog(p / q)
        }
        return psi
    }

    /// Identical edges by bit pattern, identical counts.
    public static func == (lhs: FeatureBins, rhs: FeatureBins) -> Bool {
        lhs.edges.map(\.bitPattern) == rhs.edges.map(\.bitPattern) && lhs.counts == rhs.counts
    }
}
