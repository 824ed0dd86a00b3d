import Foundation
import PortableRandom
import Testing
@testable import Forest

@Suite struct BoostedTreesTests {
    /// `rows` points uniform in [−1, 1]²; the label is 1 when both coordinates have the same
    /// sign: XOR, which no single split and no linear model can learn.
    static func checkerboard(rows: Int, seed: UInt64) -> (FeatureMatrix, [UInt8]) {
        var random = SplitMix64(seed: seed, stream: 1, index: 0)
        var a = [Double]()
        var b = [Double]()
        var labels = [UInt8]()
        for _ in 0..<rows {
            a.append(2 * random.nextUnit() - 1)
            b.append(2 * random.nextUnit() - 1)
            labels.append(a.last! * b.last! > 0 ? 1 : 0)
        }
        return (FeatureMatrix(columns: [a, b]), labels)
    }

    /// The leaf of `tree` that `row` of `x` falls in.
    static func leaf(of row: Int, in x: FeatureMatrix, tree: DecisionTree) -> Int {
        var node = 0
        while tree.features[node] >= 0 {
            let feature = Int(tree.features[node])
            node = Int(x[row: row, column: feature] <= tree.thresholds[node] ? tree.leftChildren[node] : tree.rightChildren[node])
        }
        return node
    }

    @Test func theDefaultsAreThoseOfHistGradientBoostingClassifier() {
        let defaults = BoostedParameters()
        #expect(defaults.learningRate == 0.1)
        #expect(defaults.maxIterations == 100)
        #expect(defaults.maxLeafNodes == 31)
        #expect(defaults.maxDepth == nil)
        #expect(defaults.minSamplesLeaf == 20)
        #expect(defaults.l2Regularization == 0)
        #expect(defaults.maxBins == 255)
        #expect(defaults.earlyStopping == .auto)
        #expect(!defaults.earlyStopping.isEnabled(rowCount: 10_000))
        #expect(defaults.earlyStopping.isEnabled(rowCount: 10_001))
        #expect(defaults.validationFraction == 0.1)
        #expect(defaults.iterationsWithoutChange == 10)
        #expect(defaults.tolerance == 1e-7)
        #expect(defaults.seed == 42)
        #expect(defaults.invalidity == nil)
        #expect(BoostedParameters(learningRate: 0).invalidity != nil)
        #expect(BoostedParameters(maxLeafNodes: 1).invalidity != nil)
        #expect(BoostedParameters(maxBins: 256).invalidity != nil)
        #expect(BoostedParameters(validationFraction: 1).invalidity != nil)
    }

    @Test func oneIterationIsAShrunkNewtonStepOnTheBestSplit() {
        // 40 rows, x = 0…39, label x ≥ 20: the prior is ½, so the baseline is 0, every
        // gradient ±½ and every hessian ¼; the split at 19.5 leaves 20 rows a side (no more
        // splits: a node needs 2 × 20 rows), each leaf −G/H × 0.1 = ∓0.2.
        let x = FeatureMatrix(columns: [(0..<40).map(Double.init)])
        let labels: [UInt8] = (0..<40).map { $0 >= 20 ? 1 : 0 }
        let model = BoostedTrees.fit(x, labels: labels, parameters: BoostedParameters(maxIterations: 1))
        #expect(model.baseline == 0)
        #expect(model.iterationCount == 1)
        let tree = model.trees[0]
        #expect(tree.nodeCount == 3)
        #expect(tree.features[0] == 0)
        #expect(tree.thresholds[0] == 19.5)
        #expect(abs(tree.values[1] + 0.2) < 1e-12)
        #expect(abs(tree.values[2] - 0.2) < 1e-12)
        let probabilities = model.predictProbability(FeatureMatrix(columns: [[0, 39]]))
        #expect(abs(probabilities[0] - 1 / (1 + exp(0.2))) < 1e-12)
        #expect(abs(probabilities[1] - 1 / (1 + exp(-0.2))) < 1e-12)
    }

    @Test func theL2PenaltyShrinksTheLeavesTowardZero() {
        // As above with λ = 5: each leaf holds 20 rows, G = ∓10, H = 5, so −G/(H+λ) × 0.1 = ±0.1.
        let x = FeatureMatrix(columns: [(0..<40).map(Double.init)])
        let labels: [UInt8] = (0..<40).map { $0 >= 20 ? 1 : 0 }
        let model = BoostedTrees.fit(x, labels: labels, parameters: BoostedParameters(maxIterations: 1, l2Regularization: 5))
        #expect(model.trees[0].nodeCount == 3)
        #expect(abs(model.trees[0].values[1] + 0.1) < 1e-12)
        #expect(abs(model.trees[0].values[2] - 0.1) < 1e-12)
    }

    @Test func theBaselineIsThePriorLogOddsAndTheLossIsLogLoss() {
        let labels: [UInt8] = [1, 0, 0, 0]
        #expect(abs(BoostedTrees.priorLogOdds(labels) - log(1.0 / 3)) < 1e-15)
        // At log-odds 0 every row costs log 2; at r the row costs log(1 + eʳ) − y r.
        #expect(abs(BoostedTrees.logLoss(raw: [0, 0, 0, 0], labels: labels) - log(2)) < 1e-15)
        let r = 2.5
        let expected = (log(1 + exp(r)) - r + 3 * log(1 + exp(r))) / 4
        #expect(abs(BoostedTrees.logLoss(raw: [r, r, r, r], labels: labels) - expected) < 1e-12)
        #expect(BoostedTrees.logLoss(raw: [-800, 800], labels: [0, 1]) == 0) // no overflow
    }

    @Test func gradientsAndHessiansAreThoseOfTheLogLoss() {
        let workspace = BoostingWorkspace(rowCount: 3, featureCount: 1)
        BoostedTrees.updateGradients(raw: [0, log(3), -log(3)], labels: [1, 0, 1], workspace: workspace, threadCount: 1)
        // p = ½, ¾, ¼: gradient p − y, hessian p (1 − p).
        #expect(Array(workspace.gradients) == [-0.5, 0.75, -0.75])
        #expect(Array(workspace.hessians) == [0.25, 0.1875, 0.1875])
    }

    @Test func aSeedGivesTheSameModelWhateverTheThreadCount() {
        let (x, labels) = BoostedTrees.noisyTelemetry(rows: 12_000, seed: 3)
        let parameters = BoostedParameters(maxIterations: 15)
        let one = BoostedTrees.fit(x, labels: labels, parameters: parameters, threadCount: 1)
        let two = BoostedTrees.fit(x, labels: labels, parameters: parameters, threadCount: 2)
        let again = BoostedTrees.fit(x, labels: labels, parameters: parameters)
        #expect(one == two)
        #expect(two == again)
        #expect(one.encoded() == two.encoded())
        #expect(one.predictProbability(x).map(\.bitPattern) == again.predictProbability(x).map(\.bitPattern))
        let otherSeed = BoostedTrees.fit(x, labels: labels, parameters: BoostedParameters(maxIterations: 15, seed: 43))
        #expect(otherSeed != one) // another validation split
    }

    @Test func largeNodesPartitionedInChunksGiveTheSameModel() {
        // Nodes of 65,536 rows and more are partitioned in one chunk per thread.
        let (x, labels) = BoostedTrees.noisyTelemetry(rows: 80_000, seed: 6)
        let parameters = BoostedParameters(maxIterations: 3, earlyStopping: .off)
        let one = BoostedTrees.fit(x, labels: labels, parameters: parameters, threadCount: 1)
        #expect(one == BoostedTrees.fit(x, labels: labels, parameters: parameters, threadCount: 2))
        #expect(one == BoostedTrees.fit(x, labels: labels, parameters: parameters, threadCount: 3))
        // More threads than make sense: chunks of a row or two, some empty.
        #expect(one == BoostedTrees.fit(x, labels: labels, parameters: parameters, threadCount: 50_000))
    }

    @Test func itLearnsXorWhichNoSingleSplitSeparates() {
        let (x, labels) = Self.checkerboard(rows: 4_000, seed: 1)
        let (probe, probeLabels) = Self.checkerboard(rows: 2_000, seed: 2)
        let model = BoostedTrees.fit(x, labels: labels)
        #expect(model.iterationCount == 100) // 4,000 rows: no early stopping
        #expect(ClassificationMetrics.rocAUC(labels: probeLabels, scores: model.predictProbability(probe)) > 0.98)
        let accuracy = zip(model.predict(probe), probeLabels).filter { $0 == $1 }.count
        #expect(accuracy > 1_900)
    }

    @Test func everyTreeKeepsItsLeafMinimumLeafCountAndDepth() {
        let (x, labels) = BoostedTrees.noisyTelemetry(rows: 6_000, seed: 5)
        let parameters = BoostedParameters(maxIterations: 10, maxLeafNodes: 12, maxDepth: 4, minSamplesLeaf: 50)
        let model = BoostedTrees.fit(x, labels: labels, parameters: parameters)
        for tree in model.trees {
            var rowsPerLeaf = [Int: Int]()
            for row in 0..<x.rowCount { rowsPerLeaf[Self.leaf(of: row, in: x, tree: tree), default: 0] += 1 }
            #expect(rowsPerLeaf.values.allSatisfy { $0 >= 50 })
            #expect(rowsPerLeaf.count <= 12)
            #expect(tree.depth <= 4)
        }
        #expect(model.trees.contains { $0.nodeCount > 1 })
    }

    @Test func earlyStoppingStopsWhenTheValidationLossStopsImproving() {
        // Labels independent of the features: after a few iterations every tree fits noise
        // and the validation loss gets worse.
        let (x, _) = BoostedTrees.noisyTelemetry(rows: 12_000, seed: 8)
        var random = SplitMix64(seed: 8, stream: 2, index: 0)
        let labels: [UInt8] = (0..<x.rowCount).map { _ in random.nextUnit() < 0.2 ? 1 : 0 }
        var reported = [Int]()
        let stopped = BoostedTrees.fit(x, labels: labels) { reported.append($0) }
        #expect(stopped.iterationCount < 40)
        #expect(stopped.iterationCount >= 10) // the last 10 must fail to beat the one before them
        #expect(reported == Array(1...stopped.iterationCount))
        let full = BoostedTrees.fit(x, labels: labels, parameters: BoostedParameters(earlyStopping: .off))
        #expect(full.iterationCount == 100)
    }

    @Test func theStoppingRuleIsScikitLearns() {
        let parameters = BoostedParameters(iterationsWithoutChange: 2, tolerance: 0.1)
        // Fewer than 3 scores: never.
        #expect(!BoostedTrees.shouldStop(scores: [-1, -2], parameters: parameters))
        // The reference is the third-last score plus the tolerance; one later score above it goes on.
        #expect(!BoostedTrees.shouldStop(scores: [-1, -0.95, -0.85], parameters: parameters))
        #expect(BoostedTrees.shouldStop(scores: [-1, -0.95, -0.9], parameters: parameters))
        #expect(BoostedTrees.shouldStop(scores: [-5, -1, -0.95, -0.95], parameters: parameters))
    }

    @Test func oneClassOnlyGivesAFiniteBaselineAndNoSplit() {
        let x = FeatureMatrix(columns: [(0..<100).map(Double.init)])
        let model = BoostedTrees.fit(x, labels: [UInt8](repeating: 0, count: 100), parameters: BoostedParameters(maxIterations: 3))
        #expect(model.baseline.isFinite)
        #expect(model.trees.allSatisfy { $0.nodeCount == 1 })
        #expect(model.predictProbability(x).allSatisfy { $0 < 1e-12 })
        // A huge learning rate drives every probability to exactly 0 (gradients and hessians
        // 0): the leaves stay finite, the model still encodes and decodes.
        let extreme = BoostedTrees.fit(x, labels: [UInt8](repeating: 0, count: 100),
                                       parameters: BoostedParameters(learningRate: 1_000, maxIterations: 5))
        #expect(extreme.trees.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        #expect((try? BoostedTrees(decoding: extreme.encoded())) == extreme)
    }
}
