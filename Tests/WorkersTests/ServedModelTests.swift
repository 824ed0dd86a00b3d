import Forest
import Testing
@testable import Workers

/// `ServedModel`, the one scoring call of the trainer and the predictor.
@Suite struct ServedModelTests {
    static func served(rows: Int) -> (ServedModel, FeatureMatrix) {
        let (x, cleanLabels) = RandomForest.syntheticTelemetry(rows: rows, seed: 5)
        // Noisy labels: scores spread over (0, 1), not only 0 and 1.
        let labels = cleanLabels.indices.map { $0 % 7 == 0 ? 1 - cleanLabels[$0] : cleanLabels[$0] }
        let forest = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 5))
        let calibration = IsotonicCalibration(thresholds: [0, 0.5, 1], values: [0.01, 0.2, 0.9])
        return (ServedModel(scorer: .forest(forest), calibration: calibration), x)
    }

    @Test func scoringInSlicesGivesTheWholeForestsScoresAndReportsEachSlice() {
        let rows = 2 * ServedModel.progressRows + 1_000
        let (served, x) = Self.served(rows: rows)
        guard case .forest(let forest) = served.scorer else { Issue.record("not a forest"); return }
        var done: [Int] = []
        let probabilities = served.modelProbabilities(x) { done.append($0) }
        #expect(probabilities == forest.predictProbability(x))
        #expect(done == [ServedModel.progressRows, 2 * ServedModel.progressRows, rows])

        // The risk is the calibration of that probability, the decision the probability's own.
        let scores = served.scores(x)
        #expect(scores.map(\.risk) == served.risk(fromModelProbabilities: probabilities))
        #expect(scores.map(\.predictedFailure) == probabilities.map { $0 >= 0.5 ? 1 : 0 })
        #expect(scores.contains { $0.predictedFailure == 1 && $0.risk < 0.5 }, "the calibration lowers flagged rows' risk")
    }

    @Test func aSmallMatrixIsOneSlice() {
        let (served, x) = Self.served(rows: 300)
        var done: [Int] = []
        _ = served.scores(x) { done.append($0) }
        #expect(done == [300])
    }
}
