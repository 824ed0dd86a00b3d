import Testing
@testable import Forest

@Suite struct ClassificationMetricsTests {
    @Test func rocAUCOfKnownCases() {
        #expect(ClassificationMetrics.rocAUC(labels: [0, 0, 1, 1], scores: [0.1, 0.2, 0.8, 0.9]) == 1)
        #expect(ClassificationMetrics.rocAUC(labels: [1, 1, 0, 0], scores: [0.1, 0.2, 0.8, 0.9]) == 0)
        #expect(ClassificationMetrics.rocAUC(labels: [0, 1, 0, 1], scores: [0.5, 0.5, 0.5, 0.5]) == 0.5)
        // scikit-learn's documented example.
        #expect(ClassificationMetrics.rocAUC(labels: [0, 0, 1, 1], scores: [0.1, 0.4, 0.35, 0.8]) == 0.75)
        // Pairs (positive, negative): (.5, .5) ½, (.5, .2) 1, (.7, .5) 1, (.7, .2) 1 → 3.5 / 4.
        #expect(ClassificationMetrics.rocAUC(labels: [0, 1, 1, 0], scores: [0.5, 0.5, 0.7, 0.2]) == 0.875)
        #expect(ClassificationMetrics.rocAUC(labels: [1, 1], scores: [0.1, 0.2]).isNaN)
    }

    @Test func confusionPrecisionRecallF1() {
        let labels: [UInt8] = [0, 0, 0, 1, 1, 1, 1]
        let predictions: [UInt8] = [0, 1, 0, 1, 1, 0, 1]
        let c = ClassificationMetrics.confusion(labels: labels, predictions: predictions)
        #expect(c.tn == 2 && c.fp == 1 && c.fn == 1 && c.tp == 3)
        #expect(ClassificationMetrics.precision(labels: labels, predictions: predictions) == 0.75)
        #expect(ClassificationMetrics.recall(labels: labels, predictions: predictions) == 0.75)
        #expect(ClassificationMetrics.f1(labels: labels, predictions: predictions) == 0.75)
    }

    @Test func undefinedRatiosAreZero() {
        #expect(ClassificationMetrics.precision(labels: [1, 0], predictions: [0, 0]) == 0)
        #expect(ClassificationMetrics.recall(labels: [0, 0], predictions: [1, 0]) == 0)
        #expect(ClassificationMetrics.f1(labels: [0, 0], predictions: [0, 0]) == 0)
    }

    @Test func stratifiedSplitKeepsProportionsAndIsDeterministic() {
        let labels = (0..<1_000).map { UInt8($0 % 20 == 3 ? 1 : 0) } // 50 positives
        let split = ClassificationMetrics.stratifiedSplit(labels: labels, testFraction: 0.2, seed: 42)
        #expect(split.test.count == 200 && split.train.count == 800)
        #expect(split.test.filter { labels[$0] == 1 }.count == 10)
        #expect(Set(split.train).isDisjoint(with: split.test))
        #expect((split.train + split.test).sorted() == Array(0..<1_000))
        #expect(split.train == split.train.sorted())
        let again = ClassificationMetrics.stratifiedSplit(labels: labels, testFraction: 0.2, seed: 42)
        #expect(again.train == split.train && again.test == split.test)
        #expect(ClassificationMetrics.stratifiedSplit(labels: labels, testFraction: 0.2, seed: 43).test != split.test)
        // round(7 × 0.2) = 1 positive to test.
        let few = ClassificationMetrics.stratifiedSplit(labels: [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], testFraction: 0.2, seed: 1)
        #expect(few.test.filter { $0 < 7 }.count == 1 && few.test.count == 2)
    }
}
