import Forest
import Testing

/// Isotonic calibration, the Brier score, the reliability table and out-of-bag scores.
struct CalibrationTests {
    @Test func isotonicPoolsAdjacentViolatorsAndInterpolates() {
        // Scores 0.1…0.5 with labels 0 1 0 1 1: the violators 1, 0 at 0.2, 0.3 pool to 0.5.
        let map = IsotonicCalibration.fit(scores: [0.1, 0.2, 0.3, 0.4, 0.5], labels: [0, 1, 0, 1, 1])
        #expect(map.thresholds == [0.1, 0.2, 0.3, 0.4, 0.5])
        #expect(map.values == [0, 0.5, 0.5, 1, 1])
        #expect(map.apply(0.05) == 0 && map.apply(0.9) == 1)
        #expect(map.apply(0.25) == 0.5)
        #expect(abs(map.apply(0.15) - 0.25) < 1e-12)
        #expect(map.invalidity == nil)
    }

    @Test func isotonicGroupsEqualScoresIntoOneBlock() {
        let map = IsotonicCalibration.fit(scores: [0.5, 0.5, 0.5, 0.5], labels: [0, 1, 1, 1])
        #expect(map.thresholds == [0.5] && map.values == [0.75])
    }

    @Test func isotonicIsMonotoneOnNoisyScores() {
        let scores = (0..<1000).map { Double(($0 * 7919) % 1000) / 1000 }
        let labels: [UInt8] = scores.enumerated().map { ($0.offset * 31) % 100 < Int($0.element * 60) ? 1 : 0 }
        let map = IsotonicCalibration.fit(scores: scores, labels: labels)
        let applied = stride(from: 0.0, through: 1.0, by: 0.01).map(map.apply)
        #expect(zip(applied, applied.dropFirst()).allSatisfy { $0 <= $1 })
        // Fitted values keep the labels' mean (a property of isotonic least squares).
        let mean = map.apply(scores).reduce(0, +) / 1000
        #expect(abs(mean - Double(labels.reduce(0) { $0 + Int($1) }) / 1000) < 1e-9)
    }

    @Test func aDecreasingMapIsInvalid() {
        #expect(IsotonicCalibration(thresholds: [0, 1], values: [0.5, 0.2]).invalidity != nil)
        #expect(IsotonicCalibration(thresholds: [0], values: [1.5]).invalidity != nil)
    }

    @Test func brierAndReliabilityAreAsScikitLearnComputesThem() {
        let labels: [UInt8] = [0, 1, 1, 0]
        let scores = [0.1, 0.9, 0.8, 0.3]
        // (0.01 + 0.01 + 0.04 + 0.09) / 4
        #expect(abs(ClassificationMetrics.brier(labels: labels, scores: scores) - 0.0375) < 1e-12)
        let bins = ClassificationMetrics.reliability(labels: labels, scores: scores + [], bins: 10)
        #expect(bins.count == 10)
        #expect(bins[1].count == 1 && bins[1].observedRate == 0 && bins[1].meanPredicted == 0.1)
        #expect(bins[8].count == 1 && bins[8].observedRate == 1)
        #expect(bins[9].count == 1 && bins[9].meanPredicted == 0.9)
        #expect(ClassificationMetrics.reliability(labels: [1], scores: [1.0], bins: 10)[9].count == 1)
    }

    @Test func outOfBagScoresUseOnlyTreesThatNeverDrewTheRow() {
        let (x, labels) = RandomForest.syntheticTelemetry(rows: 2_000, seed: 3)
        let data = (x: x, labels: labels)
        let forest = RandomForest.fit(data.x, labels: data.labels, parameters: ForestParameters(treeCount: 30), threadCount: 2)
        let oob = forest.outOfBagProbability(data.x)
        #expect(oob.count == 2_000)
        // With 30 trees a row is out of bag for about 11 of them; never in all 30 here.
        #expect(oob.allSatisfy { !$0.isNaN && $0 >= 0 && $0 <= 1 })
        // The same whatever the thread count: each row's trees add up in index order.
        let again = RandomForest.fit(data.x, labels: data.labels, parameters: ForestParameters(treeCount: 30), threadCount: 1)
        #expect(again.outOfBagProbability(data.x).map(\.bitPattern) == oob.map(\.bitPattern))
        // Out-of-bag scores are honest: on separable data still near perfect, but not the in-sample 1.0 by construction.
        #expect(ClassificationMetrics.rocAUC(labels: data.labels, scores: oob) > 0.95)
        let none = RandomForest.fit(data.x, labels: data.labels,
                                    parameters: ForestParameters(treeCount: 3, bootstrap: false), threadCount: 1)
        #expect(none.outOfBagProbability(data.x).allSatisfy { $0.isNaN })
    }
}
