import Foundation
import Testing
@testable import Forest

@Suite struct RandomForestTests {
    /// 40 rows: feature 1 is 1 or 2 for class 0 and 4 or 5 for class 1; feature 0 is noise.
    static func separable() -> (FeatureMatrix, [UInt8]) {
        var noise = [Double]()
        var signal = [Double]()
        var labels = [UInt8]()
        for row in 0..<40 {
            let isPositive = row % 2 == 1
            noise.append(Double((row * 7919) % 13))
            signal.append(isPositive ? Double(4 + row % 4 / 2) : Double(1 + row % 4 / 2))
            labels.append(isPositive ? 1 : 0)
        }
        return (FeatureMatrix(columns: [noise, signal]), labels)
    }

    @Test func everyRootSplitsOnTheSeparatingFeatureBetweenTheClasses() {
        let (x, labels) = Self.separable()
        let forest = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 20, maxFeatures: .all))
        for tree in forest.trees {
            #expect(tree.features[0] == 1)
            #expect(tree.thresholds[0] == 3.0)
            // A perfect split leaves two pure leaves.
            #expect(tree.nodeCount == 3)
        }
        #expect(forest.predict(x) == labels)
        #expect(forest.predictProbability(FeatureMatrix(columns: [[0, 0], [2.9, 3.1]])) == [0, 1])
    }

    /// 200 negatives and 20 positives; the region `x = 1` holds 3 positives and 10 negatives.
    static func imbalanced() -> (FeatureMatrix, [UInt8]) {
        var x = [Double]()
        var labels = [UInt8]()
        for _ in 0..<3 { x.append(1); labels.append(1) }
        for _ in 0..<10 { x.append(1); labels.append(0) }
        for _ in 0..<17 { x.append(0); labels.append(1) }
        for _ in 0..<190 { x.append(0); labels.append(0) }
        return (FeatureMatrix(columns: [x]), labels)
    }

    @Test func balancedClassWeightsTurnAMinorityRegionPositive() {
        let (x, labels) = Self.imbalanced()
        let probe = FeatureMatrix(columns: [[1, 0]])
        let plain = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 1, bootstrap: false, classWeight: .none))
        #expect(plain.predictProbability(probe) == [3.0 / 13, 17.0 / 207])
        #expect(plain.predict(probe) == [0, 0])
        // w1 = 220 / (2 × 20) = 5.5, w0 = 220 / (2 × 200) = 0.55: 16.5 against 5.5 in the region.
        let balanced = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 1, bootstrap: false))
        let probability = balanced.predictProbability(probe)
        #expect(abs(probability[0] - 0.75) < 1e-12)
        #expect(abs(probability[1] - 93.5 / 198) < 1e-12)
        #expect(balanced.predict(probe) == [1, 0])
    }

    @Test func balancedWeightsAreThoseOfComputeClassWeight() {
        #expect(RandomForest.classWeights(labels: [0, 0, 0, 1], mode: .balanced) == [4.0 / 6, 2])
        #expect(RandomForest.classWeights(labels: [0, 0, 0, 1], mode: .none) == [1, 1])
        #expect(RandomForest.classWeights(labels: [0, 0], mode: .balanced) == [1, 1])
    }

    @Test func theSameSeedGivesTheSameForestWhateverTheThreadCount() {
        let (x, cleanLabels) = RandomForest.syntheticTelemetry(rows: 3_000, seed: 3)
        // Flipping every 13th label makes the trees deep, so there is much to disagree on.
        let labels = cleanLabels.indices.map { $0 % 13 == 0 ? 1 - cleanLabels[$0] : cleanLabels[$0] }
        let parameters = ForestParameters(treeCount: 12)
        let reference = RandomForest.fit(x, labels: labels, parameters: parameters, threadCount: 1)
        for threads in [1, 2, 3, 5] {
            let forest = RandomForest.fit(x, labels: labels, parameters: parameters, threadCount: threads)
            #expect(forest.encoded() == reference.encoded())
            #expect(forest.predictProbability(x) == reference.predictProbability(x))
        }
        #expect(reference.trees.allSatisfy { $0.nodeCount > 50 })
        var other = parameters
        other.seed = 43
        #expect(RandomForest.fit(x, labels: labels, parameters: other).encoded() != reference.encoded())
    }

    @Test func aFittedForestKeepsNoGrowthSlackInItsTrees() {
        let (x, cleanLabels) = RandomForest.syntheticTelemetry(rows: 3_000, seed: 3)
        let labels = cleanLabels.indices.map { $0 % 13 == 0 ? 1 - cleanLabels[$0] : cleanLabels[$0] }
        let forest = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 4))
        for tree in forest.trees {
            #expect(tree.nodeCount > 50)
            // Growing doubles the arrays' capacity; a fitted tree's arrays hold its nodes only
            // (the allocator may round a buffer up by a few elements).
            for slack in [tree.features.capacity, tree.leftChildren.capacity, tree.rightChildren.capacity].map({ $0 - tree.nodeCount })
                + [tree.thresholds.capacity, tree.values.capacity].map({ $0 - tree.nodeCount }) {
                #expect((0...8).contains(slack), "\(slack) unused slots in a tree of \(tree.nodeCount) nodes")
            }
        }
        var grown = DecisionTree()
        for node in 0..<1_000 { _ = grown.appendLeaf(value: Double(node % 2)) }
        #expect(grown.compacted() == grown)
        #expect(grown.features.capacity > grown.compacted().features.capacity)
    }

    @Test func maxDepthAndMinSamplesLeafBoundTheTrees() {
        let (x, labels) = RandomForest.syntheticTelemetry(rows: 2_000, seed: 5)
        let shallow = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 5, maxDepth: 2))
        #expect(shallow.trees.allSatisfy { $0.depth <= 2 })
        let coarse = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 1, minSamplesLeaf: 400, bootstrap: false))
        #expect(coarse.trees[0].nodeCount <= 2 * (2_000 / 400) - 1)
    }

    @Test func progressCountsEveryTree() {
        let (x, labels) = Self.separable()
        let seen = ProgressLog()
        _ = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 9)) { seen.record($0) }
        #expect(seen.values.sorted() == Array(1...9))
    }

    @Test func learnsTheSyntheticTelemetryWithAHoldoutAUCOfAtLeast099() {
        let (x, labels) = RandomForest.syntheticTelemetry(rows: 10_000, seed: 11)
        let split = ClassificationMetrics.stratifiedSplit(labels: labels, testFraction: 0.2, seed: 11)
        #expect(split.train.count == 8_000)
        let forest = RandomForest.fit(x.rows(split.train), labels: split.train.map { labels[$0] })
        let testLabels = split.test.map { labels[$0] }
        let auc = ClassificationMetrics.rocAUC(labels: testLabels, scores: forest.predictProbability(x.rows(split.test)))
        #expect(auc >= 0.99)
        #expect(ClassificationMetrics.f1(labels: testLabels, predictions: forest.predict(x.rows(split.test))) > 0.8)
    }
}

/// Progress values, recorded from any thread.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Int] = []
    func record(_ value: Int) { lock.withLock { recorded.append(value) } }
    var values: [Int] { lock.withLock { recorded } }
}

