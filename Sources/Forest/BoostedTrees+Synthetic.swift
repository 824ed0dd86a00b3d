import Foundation
import PortableRandom

/// Noisy synthetic telemetry, where failures are a noisy, non-separable function of the
/// readings and of a term no feature observes.
///
/// Unlike `RandomForest.syntheticTelemetry`, no Python script regenerates these rows: the
/// peer test writes them to CSV, with its split, for `benchmarks/sklearn_boosted.py`.
extension BoostedTrees {
    /// `rows` records of the six telemetry features (`RandomForest.telemetryFeatureNames`),
    /// about 6 % failures. Row `i` draws from its own SplitMix64 stream four normal pairs
    /// `z₀…z₇` and a uniform `u`: flow 500 + 50 z₀, pressure 5 + 0.5 z₁, vibration 2 + 0.3 z₂,
    /// temperature 45 + 5 z₃, and two noisy proxies, vibration + 0.3 z₄ and pressure + 0.5 z₅.
    /// The row fails when `u < σ(s + 0.6 z₆)`, with the observable score
    /// `s = −5.2 + 0.9 z₂² + max(0, −z₁) + 0.9 [z₃ > 0.8 ∧ z₂ > 0] + 0.5 sin(2 z₀)`
    /// (a U in vibration, a hinge in pressure, an interaction and a wave) and `z₆` an
    /// unobserved wear term (`z₇` is drawn and unused). None of it is separable: the best
    /// possible score from the features, `s` itself, has a ROC-AUC of about 0.87.
    public static func noisyTelemetry(rows: Int, seed: UInt64) -> (FeatureMatrix, [UInt8]) {
        precondition(rows >= 0, "row count \(rows) is negative")
        var storage = [Double](repeating: 0, count: rows * 6)
        var labels = [UInt8](repeating: 0, count: rows)
        storage.withUnsafeMutableBufferPointer { values in
            for row in 0..<rows {
                var random = SplitMix64(seed: seed, stream: RandomStream.noisySynthetic, index: UInt64(row))
                let (z0, z1) = random.nextNormalPair()
                let (z2, z3) = random.nextNormalPair()
                let (z4, z5) = random.nextNormalPair()
                let (wear, _) = random.nextNormalPair()
                let pressure = 5 + 0.5 * z1
                let vibration = 2 + 0.3 * z2
                values[row] = 500 + 50 * z0
                values[rows + row] = pressure
                values[2 * rows + row] = vibration
                values[3 * rows + row] = 45 + 5 * z3
                values[4 * rows + row] = vibration + 0.3 * z4
                values[5 * rows + row] = pressure + 0.5 * z5
                let score = -5.2 + 0.9 * z2 * z2 + max(0, -z1) + (z3 > 0.8 && z2 > 0 ? 0.9 : 0) + 0.5 * sin(2 * z0)
                labels[row] = random.nextUnit() < 1 / (1 + exp(-(score + 0.6 * wear))) ? 1 : 0
            }
        }
        return (FeatureMatrix(rowCount: rows, columnCount: 6, storage: storage), labels)
    }
}

extension RandomStream {
    /// The rows of `BoostedTrees.noisyTelemetry`.
    static let noisySynthetic: UInt64 = 0xF0_4E57_00B2
}

extension BoostedTrees {
    /// Writes `x` and `labels` as the CSV `benchmarks/sklearn_boosted.py` reads: a header of
    /// `featureNames` (by default `f0, f1, …`), `label` and `split`, then one line per row,
    /// `split` 1 for the rows in `testRows` and 0 for the others. Values are written in
    /// Swift's shortest round-trip form, so Python reads back the same doubles.
    /// - Throws: the file system's error when `path` cannot be written.
    public static func writeComparisonCSV(
        _ x: FeatureMatrix, labels: [UInt8], testRows: [Int], featureNames: [String]? = nil, to path: String
    ) throws {
        precondition(labels.count == x.rowCount, "\(labels.count) labels for \(x.rowCount) rows")
        let names = featureNames ?? (0..<x.columnCount).map { "f\($0)" }
        precondition(names.count == x.columnCount, "\(names.count) names for \(x.columnCount) features")
        var isTest = [Bool](repeating: false, count: x.rowCount)
        for row in testRows { isTest[row] = true }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var text = (names + ["label", "split"]).joined(separator: ",") + "\n"
        for row in 0..<x.rowCount {
            for column in 0..<x.columnCount {
                text += "\(x.storage[column * x.rowCount + row]),"
            }
            text += labels[row] != 0 ? "1," : "0,"
            text += isTest[row] ? "1\n" : "0\n"
            if text.utf8.count >= 1 << 20 {
                try handle.write(contentsOf: Data(text.utf8))
                text = ""
            }
        }
        try handle.write(contentsOf: Data(text.utf8))
    }
}
