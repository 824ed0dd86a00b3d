import Foundation
import Testing
@testable import Forest

/// CIDP's boosted model against scikit-learn's `HistGradientBoostingClassifier()` on the same
/// rows and split, through `benchmarks/sklearn_boosted.py` run by Debian's `/usr/bin/python3`.
@Suite struct BoostedPeerTests {
    static let python = "/usr/bin/python3"
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("benchmarks/sklearn_boosted.py").path
    /// The seeds of both sides' fits: CIDP's `BoostedParameters.seed`, sklearn's `random_state`.
    static let seeds: [UInt64] = [1, 2, 3, 4, 5]

    /// One line of what the script prints.
    struct PeerResult: Decodable {
        var auc: Double
        var iterations: Int
        var train_rows: Int
        var test_rows: Int
        var test_positives: Int
    }

    /// Runs `python` with `arguments` and `environment` added to ours; its exit status and
    /// standard output (standard error passes through, so a failing script explains itself).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    /// Whether `/usr/bin/python3` can import scikit-learn and NumPy (the peer is optional;
    /// the algorithm's own tests are not).
    static let hasScikitLearn: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        return (try? run(["-c", "import sklearn, numpy"]).status) == 0
    }()

    @Test(
        .enabled(if: hasScikitLearn, "skipped: /usr/bin/python3 cannot import sklearn and numpy (Debian: apt-get install python3-sklearn)"),
        .timeLimit(.minutes(5))
    )
    func holdoutAUCIsAtLeastHistGradientBoostingClassifiers() throws {
        // 20,000 rows, about 6 % failures, a noisy logistic function of the features and an
        // unobserved term: not separable (the best possible ROC-AUC is about 0.87).
        let (x, labels) = BoostedTrees.noisyTelemetry(rows: 20_000, seed: 13)
        let split = ClassificationMetrics.stratifiedSplit(labels: labels, testFraction: 0.2, seed: 13)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-boosted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let csv = directory.appendingPathComponent("rows.csv").path
        try BoostedTrees.writeComparisonCSV(x, labels: labels, testRows: split.test,
                                           featureNames: RandomForest.telemetryFeatureNames, to: csv)

        // One OpenMP thread: the scores do not depend on it, and on a busy machine OpenMP's
        // spinning threads can take a minute over a fit that takes a quarter of a second alone.
        let states = Self.seeds.map(String.init).joined(separator: ",")
        let (status, output) = try Self.run([Self.script, "--csv", csv, "--random-state", states], environment: ["OMP_NUM_THREADS": "1"])
        try #require(status == 0, "sklearn_boosted.py exited \(status)")
        let peers = try output.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(PeerResult.self, from: Data($0)) }
        try #require(peers.count == Self.seeds.count)
        let testLabels = split.test.map { labels[$0] }
        for peer in peers {
            #expect(peer.train_rows == split.train.count && peer.test_rows == split.test.count)
            #expect(peer.test_positives == testLabels.reduce(0) { $0 + Int($1) })
        }

        let (train, trainLabels, test) = (x.rows(split.train), split.train.map { labels[$0] }, x.rows(split.test))
        let aucs = Self.seeds.map { seed in
            let model = BoostedTrees.fit(train, labels: trainLabels, parameters: BoostedParameters(seed: seed))
            return ClassificationMetrics.rocAUC(labels: testLabels, scores: model.predictProbability(test))
        }
        let ours = aucs.reduce(0, +) / Double(aucs.count)
        let theirs = peers.map(\.auc).reduce(0, +) / Double(peers.count)
        // Each side's seed only picks its early-stopping validation rows, yet at 20,000 rows that
        // moves one fit's holdout AUC a lot. Measured with 10 seeds a side on six draws of these
        // rows (data seeds 13 and 21…25): one fit's standard deviation is 0.0021–0.0049 for
        // sklearn and 0.0026–0.0048 for CIDP, the range within one draw up to 0.0125. Hence
        // means over 5 seeds a side, whose difference then has a standard deviation of about
        // sqrt(2 × 0.0035² / 5) ≈ 0.0022. The six draws gave CIDP − sklearn of −0.0014, 0,
        // +0.0007, +0.0023, +0.0035 and +0.0042 (this draw). A tolerance of 0.005, over two
        // standard deviations, absorbs that noise and still fails a learner that overfits: on
        // this draw CIDP's mean is 0.842, with a learning rate of 0.3 instead of 0.1 it is 0.826,
        // with 0.5 it is 0.808. (Holdout AUC here is blind to some changes: stumps score 0.845 and
        // 10 iterations 0.840. The unit tests pin the tree, the steps and the stopping rule.)
        print("boosted peer: CIDP mean AUC \(ours) \(aucs), sklearn mean AUC \(theirs) \(peers.map(\.auc))")
        #expect(ours >= theirs - 0.005, "CIDP's mean holdout AUC \(ours) is below sklearn's \(theirs) − 0.005")
    }
}
