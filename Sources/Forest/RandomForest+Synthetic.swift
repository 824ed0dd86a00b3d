import PortableRandom
import Foundation

/// Synthetic telemetry shaped like the simulator's, and a one-call benchmark.
///
/// `benchmarks/sklearn_forest.py` replicates `syntheticTelemetry(rows:seed:)` value for
/// value (same SplitMix64 streams, same portable logarithm, same operation order), so the
/// Swift and scikit-learn forests train on the same data.
extension RandomForest {
    /// Names of the six features, in column order.
    public static let telemetryFeatureNames = [
        "flow_rate", "pressure", "vibration", "temperature", "vibration_rolling_mean", "pressure_rolling_mean",
    ]
    /// The number of pumps the synthetic rows cycle through (row `i` belongs to pump `i % 10`).
    static let syntheticPumpCount = 10

    /// `rows` synthetic records: flow N(500, 50), pressure N(5, 0.5), vibration N(2, 0.3),
    /// temperature N(45, 5); 5 % failures with pressure ×0.6, vibration ×2.5, temperature
    /// +20; rounded to hundredths (ties to even); rolling means of vibration and pressure
    /// over each pump's last 3 rows (partial windows at the start). Row `i` draws from its
    /// own SplitMix64 stream: two polar Box–Muller pairs, then the failure uniform.
    public static func syntheticTelemetry(rows: Int, seed: UInt64) -> (FeatureMatrix, [UInt8]) {
        precondition(rows >= 0, "row count \(rows) is negative")
        // One column-major buffer, written in place: no per-column arrays to copy afterwards.
        var storage = [Double](repeating: 0, count: rows * 6)
        var labels = [UInt8](repeating: 0, count: rows)
        let pumps = syntheticPumpCount
        storage.withUnsafeMutableBufferPointer { values in
            for row in 0..<rows {
                var random = SplitMix64(seed: seed, stream: RandomStream.synthetic, index: UInt64(row))
                let (flowNoise, pressureNoise) = random.nextNormalPair()
                let (vibrationNoise, temperatureNoise) = random.nextNormalPair()
                let isFailure = random.nextUnit() < 0.05
                var pressure = 5 + 0.5 * pressureNoise
                var vibration = 2 + 0.3 * vibrationNoise
                var temperature = 45 + 5 * temperatureNoise
                if isFailure {
                    pressure *= 0.6
                    vibration *= 2.5
                    temperature += 20
                }
                values[row] = centesimal(500 + 50 * flowNoise)
                values[rows + row] = centesimal(pressure)
                values[2 * rows + row] = centesimal(vibration)
                values[3 * rows + row] = centesimal(temperature)
                labels[row] = isFailure ? 1 : 0
            }
            for (source, target) in [(2, 4), (1, 5)] {
                let from = source * rows
                for row in 0..<rows {
                    values[target * rows + row] = row >= 2 * pumps
                        ? (values[from + row - 2 * pumps] + values[from + row - pumps] + values[from + row]) / 3
                        : row >= pumps ? (values[from + row - pumps] + values[from + row]) / 2
                        : values[from + row]
                }
            }
        }
        return (FeatureMatrix(rowCount: rows, columnCount: 6, storage: storage), labels)
    }

    /// Trains the default forest on a stratified 80 % of `rows` synthetic records (seed 7)
    /// and scores the other 20 %: the fit's wall-clock seconds and the holdout ROC-AUC.
    public static func benchmarkFit(rows: Int, threadCount: Int? = nil) -> (seconds: Double, auc: Double) {
        let (train, trainLabels, test, testLabels) = {
            let (x, labels) = syntheticTelemetry(rows: rows, seed: 7)
            let split = ClassificationMetrics.stratifiedSplit(labels: labels, testFraction: 0.2, seed: 7)
            return (x.rows(split.train), split.train.map { labels[$0] }, x.rows(split.test), split.test.map { labels[$0] })
        }() // the full matrix is freed before the fit
        let start = Date()
        let forest = fit(train, labels: trainLabels, threadCount: threadCount)
        let seconds = Date().timeIntervalSince(start)
        return (seconds, ClassificationMetrics.rocAUC(labels: testLabels, scores: forest.predictProbability(test)))
    }

    /// `value` rounded to hundredths, ties to even (NumPy's `round(value, 2)`).
    static func centesimal(_ value: Double) -> Double {
        (value * 100).rounded(.toNearestOrEven) / 100
    }

}
