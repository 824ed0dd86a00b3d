import PortableRandom
import Dispatch

/// The training view of a `FeatureMatrix`: per feature, up to 255 bins between quantile
/// edges, and a `UInt8` bin index per value (LightGBM / scikit-learn
/// `HistGradientBoosting` style), so that a split search is a histogram scan.
///
/// Bin `b` of feature `f` holds the values `v` with `edges[f][b - 1] < v ≤ edges[f][b]`
/// (unbounded at both ends), so "bin ≤ b goes left" is the same as "`v ≤ edges[f][b]`
/// goes left": trees store `edges[f][b]` as a real threshold and predict on raw values.
struct BinnedFeatures: Sendable {
    /// The most bins per feature (one byte per value).
    static let maxBinCount = 255
    /// The most values per feature sorted to find the edges.
    static let defaultSampleSize = 200_000

    let rowCount: Int
    let featureCount: Int
    /// Per feature, the ascending upper edges of every bin but the last.
    let edges: [[Double]]
    /// Column-major bin indices, `featureCount × rowCount`.
    let bins: [UInt8]

    /// Bins the rows `subset` of `matrix` (every row when nil), in that order: edges from
    /// their values or a seeded sample of `sampleSize` of them, at most `maxBins` (2...255)
    /// bins per feature. The same as binning `matrix.rows(subset)`, without copying the rows.
    init(_ matrix: FeatureMatrix, rows subset: [Int]? = nil, sampleSize: Int = defaultSampleSize,
         maxBins: Int = maxBinCount, seed: UInt64) {
        precondition(maxBins >= 2 && maxBins <= Self.maxBinCount, "max bins \(maxBins) outside 2...\(Self.maxBinCount)")
        let matrixRowCount = matrix.rowCount
        let rowCount = subset?.count ?? matrix.rowCount
        self.rowCount = rowCount
        featureCount = matrix.columnCount
        var random = SplitMix64(seed: seed, stream: RandomStream.binSample, index: 0)
        let sampleRows: [Int]? = rowCount > sampleSize
            ? (0..<sampleSize).map { _ in random.nextIndex(below: rowCount) } : nil
        var edges = [[Double]](repeating: [], count: matrix.columnCount)
        var bins = [UInt8](repeating: 0, count: rowCount * matrix.columnCount)
        edges.withUnsafeMutableBufferPointer { edgesOut in
            bins.withUnsafeMutableBufferPointer { binsOut in
                matrix.storage.withUnsafeBufferPointer { values in
                    let shared = SendableBuffers(edges: edgesOut, bins: binsOut, values: values)
                    DispatchQueue.concurrentPerform(iterations: matrix.columnCount) { feature in
                        let column = UnsafeBufferPointer(rebasing: shared.values[feature * matrixRowCount ..< (feature + 1) * matrixRowCount])
                        let sample: [Double]
                        switch (subset, sampleRows) {
                        case (nil, nil): sample = Array(column)
                        case (nil, let sampleRows?): sample = sampleRows.map { column[$0] }
                        case (let subset?, nil): sample = subset.map { column[$0] }
                        case (let subset?, let sampleRows?): sample = sampleRows.map { column[subset[$0]] }
                        }
                        let featureEdges = Self.edges(sortedSample: Self.sortedAscending(sample), maxBins: maxBins)
                        shared.edges[feature] = featureEdges
                        featureEdges.withUnsafeBufferPointer { featureEdges in
                            let out = shared.bins.baseAddress! + feature * rowCount
                            if let subset {
                                for row in 0..<rowCount { out[row] = Self.bin(of: column[subset[row]], edges: featureEdges) }
                            } else {
                                for row in 0..<rowCount { out[row] = Self.bin(of: column[row], edges: featureEdges) }
                            }
                        }
                    }
                }
            }
        }
        self.edges = edges
        self.bins = bins
    }

    /// The edges for one feature: midpoints between consecutive distinct values when there
    /// are at most `maxBins` (by default 255) of them, otherwise the `maxBins − 1` inner
    /// 1/`maxBins`-quantiles (midpoint method, as NumPy's `percentile(method="midpoint")`),
    /// deduplicated.
    static func edges(sortedSample sample: [Double], maxBins: Int = maxBinCount) -> [Double] {
        guard !sample.isEmpty else { return [] }
        var distinct = [Double]()
        for value in sample where distinct.last != value {
            distinct.append(value)
            if distinct.count > maxBins { break }
        }
        var edges = [Double]()
        if distinct.count <= maxBins {
            for index in 1..<max(1, distinct.count) {
                edges.append(distinct[index - 1] + (distinct[index] - distinct[index - 1]) / 2)
            }
            return edges
        }
        let last = Double(sample.count - 1)
        for k in 1..<maxBins {
            let position = Double(k) / Double(maxBins) * last
            let low = sample[Int(position.rounded(.down))]
            let high = sample[Int(position.rounded(.up))]
            let edge = low + (high - low) / 2
            if let previous = edges.last, edge <= previous { continue }
            edges.append(edge)
        }
        return edges
    }

    /// The bin of `value`: the number of edges strictly below it (binary search). Branch-free:
    /// which half a value falls in is a coin flip, and mispredicted branches cost more than
    /// the comparisons.
    @inline(__always)
    static func bin(of value: Double, edges: UnsafeBufferPointer<Double>) -> UInt8 {
        var low = 0
        var length = edges.count
        while length > 0 {
            let half = length >> 1
            let isBelow = edges[low + half] < value
            low = isBelow ? low + half + 1 : low
            length = isBelow ? length - half - 1 : half
        }
        return UInt8(truncatingIfNeeded: low)
    }

    /// `values` (finite) in ascending order: a least-significant-digit radix sort on keys that
    /// order as the doubles do, a byte per pass, skipping the bytes all keys share. Several
    /// times faster than a comparison sort on the samples binning sorts, and the edges come out
    /// the same: only −0 and +0 may swap places, and a midpoint never tells them apart.
    static func sortedAscending(_ values: [Double]) -> [Double] {
        // Negative doubles: all bits flipped; others: the sign bit set. Unsigned order is then numeric order.
        var keys = values.map { value -> UInt64 in
            let bits = value.bitPattern
            return bits >> 63 == 1 ? ~bits : bits | (1 << 63)
        }
        var buffer = [UInt64](repeating: 0, count: keys.count)
        for shift in stride(from: 0, to: 64, by: 8) {
            var counts = [Int](repeating: 0, count: 257)
            for key in keys { counts[Int(truncatingIfNeeded: key >> UInt64(shift)) & 0xFF + 1] += 1 }
            if counts.contains(keys.count) { continue } // every key has the same byte here
            for digit in 1...256 { counts[digit] += counts[digit - 1] }
            for key in keys {
                let digit = Int(truncatingIfNeeded: key >> UInt64(shift)) & 0xFF
                buffer[counts[digit]] = key
                counts[digit] += 1
            }
            swap(&keys, &buffer)
        }
        return keys.map { key in Double(bitPattern: key >> 63 == 1 ? key & ~(1 << 63) : ~key) }
    }
}

/// Buffers written at disjoint indices by concurrent iterations (one feature each).
private struct SendableBuffers: @unchecked Sendable {
    let edges: UnsafeMutableBufferPointer<[Double]>
    let bins: UnsafeMutableBufferPointer<UInt8>
    let values: UnsafeBufferPointer<Double>
}
