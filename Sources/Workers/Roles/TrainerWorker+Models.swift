import Forest
import Foundation
import Posix

/// The models the trainer can fit (`--model`), each with its risk calibration.
extension TrainerWorker {
    /// A fitted model, ready to be judged on the holdout and registered.
    struct Candidate {
        let served: ServedModel
        let calibration: CalibrationMap?
        let fitSeconds: Double
        let blob: [UInt8]
        /// The training parameters, JSON (`ml_models.parameters`).
        let parameters: String
    }

    /// Fits the model of `kind` on the training split, then its calibration on held-out scores.
    /// - Parameter progress: called from the fitting threads with (stage, done, total).
    func fit(_ kind: ModelKind, _ train: FeatureMatrix, labels: [UInt8], context: WorkerContext) -> Candidate {
        let heartbeat: @Sendable (String, Int, Int) -> Void = { stage, done, total in
            // Heartbeats prove the fit is alive, and a stop request ends it at once (nothing is
            // written until `publish`, one transaction).
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            context.reportProgress(stage: stage, counters: ["trees": Int64(done), "trees_total": Int64(total)])
        }
        let start = Posix.monotonicNow()
        switch kind {
        case .forest:
            let treeCount = parameters.treeCount
            let forest = RandomForest.fit(train, labels: labels, parameters: parameters) { heartbeat("train", $0, treeCount) }
            let fitSeconds = (Posix.monotonicNow() - start).seconds
            // Calibrated on held-out scores without giving up training rows: each training row's
            // out-of-bag score (the trees that never drew it), isotonic (docs/WAREHOUSE.md).
            let outOfBag = forest.outOfBagProbability(train) { heartbeat("calibrate", $0, treeCount) }
            let heldOut = outOfBag.indices.filter { !outOfBag[$0].isNaN }
            let calibration = heldOut.isEmpty ? nil : IsotonicCalibration.fit(
                scores: heldOut.map { outOfBag[$0] }, labels: heldOut.map { labels[$0] })
            return Candidate(served: ServedModel(scorer: .forest(forest), calibration: calibration),
                             calibration: calibration.map { CalibrationMap($0, fittedOn: "out-of-bag scores of \(heldOut.count) training rows") },
                             fitSeconds: fitSeconds, blob: forest.encoded(), parameters: Self.json(parameters))
        case .boosted:
            let boostedParameters = BoostedParameters(seed: parameters.seed)
            let limit = boostedParameters.maxIterations
            let boosted = BoostedTrees.fit(train, labels: labels, parameters: boostedParameters) { heartbeat("train", $0, limit) }
            let fitSeconds = (Posix.monotonicNow() - start).seconds
            // Calibrated on the rows early stopping held back from growing the trees (they chose
            // only how many trees to keep), isotonic; without early stopping (10,000 training
            // rows or fewer) the risk is the model's own probability, which log-loss already
            // fits to the observed rate.
            var calibration: IsotonicCalibration?
            var fittedOn = ""
            if let validation = BoostedTrees.validationSplit(labels: labels, parameters: boostedParameters)?.validation {
                let scores = boosted.predictProbability(train.rows(validation))
                calibration = IsotonicCalibration.fit(scores: scores, labels: validation.map { labels[$0] })
                fittedOn = "scores of the \(validation.count) training rows early stopping held out"
            }
            heartbeat("calibrate", 1, 1)
            return Candidate(served: ServedModel(scorer: .boosted(boosted), calibration: calibration),
                             calibration: calibration.map { CalibrationMap($0, fittedOn: fittedOn) },
                             fitSeconds: fitSeconds, blob: boosted.encoded(), parameters: Self.json(boostedParameters))
        }
    }

    private static func json(_ value: some Encodable) -> String {
        (try? JSONEncoder.sorted.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The holdout metrics of `served`: ROC-AUC, precision, recall and F1 of the model's own
    /// probability (F1 at 0.5, as the original's `predict`), and of the calibrated risk its Brier
    /// score, mean against the observed failure rate, and reliability table (10 bins).
    static func holdoutMetrics(served: ServedModel, test: FeatureMatrix, labels: [UInt8], trainRows: Int,
                               calibration: String?, progress: (_ rowsDone: Int) -> Void = { _ in }) -> ModelMetrics {
        let scores = served.modelProbabilities(test, progress: progress)
        let risk = served.risk(fromModelProbabilities: scores)
        let predicted = ServedModel.flags(fromModelProbabilities: scores)
        let confusion = ClassificationMetrics.confusion(labels: labels, predictions: predicted)
        let count = Double(max(1, labels.count))
        return ModelMetrics(
            rocAUC: ClassificationMetrics.rocAUC(labels: labels, scores: scores),
            precision: ClassificationMetrics.precision(labels: labels, predictions: predicted),
            recall: ClassificationMetrics.recall(labels: labels, predictions: predicted),
            f1: ClassificationMetrics.f1(labels: labels, predictions: predicted),
            truePositives: confusion.tp, falsePositives: confusion.fp, trueNegatives: confusion.tn, falseNegatives: confusion.fn,
            trainRows: trainRows, testRows: labels.count,
            brier: labels.isEmpty ? nil : ClassificationMetrics.brier(labels: labels, scores: risk),
            holdoutMeanRisk: risk.reduce(0, +) / count,
            holdoutFailureRate: Double(labels.reduce(0) { $0 + Int($1) }) / count,
            reliability: ClassificationMetrics.reliability(labels: labels, scores: risk, bins: 10),
            calibration: calibration.map { "isotonic on \($0)" })
    }
}
