import Posix
import Forest
import Foundation
import Logging
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `trainer` role: once the ETL chain has committed new data (the warehouse watermark
/// advanced), trains the failure model on `fact_telemetry_features` — stratified 80/20 split,
/// Random Forest, holdout metrics — and publishes it with predictions for every row in one
/// transaction, so a BI reader never sees a half-written `ai_telemetry_predictions`.
///
/// Options: `--db PATH` (required); `--job` with `--run-id ID` (train once the loader has recorded
/// that run's stream committed — `etl_runs` — if the data changed since the newest model, then
/// tell the supervisor the job is done); otherwise retrain whenever `--retrain-rows N` (default 10000) new rows have
/// been committed or `--retrain-minutes T` (default 60) have passed with any new row;
/// `--model forest|boosted|best` (default forest: the original's Random Forest; `best` trains both
/// and serves the better holdout ROC-AUC), `--trees N` (default 100), `--seed S` (default 42), `--promotion-margin M` (the largest drop in
/// holdout ROC-AUC or F1 against the serving model that still promotes; default 0.01 — see
/// `PromotionGuard`; a rejected model is registered with its reason, predictions untouched),
/// `--backup-keep K` (default 5; 0 disables) and `--backup-dir DIR` (default `backups` beside the
/// warehouse): before each training, an online backup of the warehouse, verified, keeping the
/// newest K — the continuity plan's "backup before any intervention"; `--gate
/// warehouse.on_violation=halt|quarantine_and_continue` (see `passesWarehouseGate`).
public struct TrainerWorker {
    let databasePath: String
    let isJob: Bool
    /// The job's run id: whose stream the trainer waits for.
    let runID: String?
    let retrainRows: Int64
    let retrainInterval: Duration
    let parameters: ForestParameters
    let promotion: PromotionGuard
    let backupDirectory: String
    let backupKeep: Int
    let gates: GatePolicy
    /// Which model to train and serve (`--model`).
    let model: ModelChoice

    /// `--model`: the forest, the boosted trees, or both with the better holdout ROC-AUC served.
    enum ModelChoice: String, CaseIterable {
        case forest, boosted, best

        /// The kinds fitted, in the order they are judged (the first wins a tie).
        var kinds: [ModelKind] {
            switch self {
            case .forest: [.forest]
            case .boosted: [.boosted]
            case .best: [.forest, .boosted]
            }
        }
    }

    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "trainer")
        databasePath = try options.required("--db")
        isJob = options.flag("--job")
        runID = try options.value("--run-id")
        if isJob, runID == nil {
            throw WorkerUsageError(description: "worker trainer: --job needs --run-id ID (the run whose stream it trains on)")
        }
        retrainRows = Int64(try options.integer("--retrain-rows", default: 10_000, range: 1...1_000_000_000))
        retrainInterval = .seconds(60 * (try options.integer("--retrain-minutes", default: 60, range: 1...100_000)))
        var parameters = ForestParameters()
        parameters.treeCount = try options.integer("--trees", default: 100, range: 1...10_000)
        parameters.seed = UInt64(try options.integer("--seed", default: 42, range: 0...Int.max))
        self.parameters = parameters
        let margin = try options.value("--promotion-margin") ?? "0.01"
        guard let value = Double(margin), value.isFinite, (0...1).contains(value) else {
            throw WorkerUsageError(description: "worker trainer: --promotion-margin expects a number 0...1, got '\(margin)'")
        }
        promotion = PromotionGuard(margin: value)
        backupKeep = try options.integer("--backup-keep", default: 5, range: 0...1000)
        let directory = databasePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        backupDirectory = try options.value("--backup-dir") ?? ((directory.isEmpty ? "." : directory) + "/backups")
        let choice = try options.value("--model") ?? ModelChoice.forest.rawValue
        guard let model = ModelChoice(rawValue: choice) else {
            throw WorkerUsageError(description: "worker trainer: --model expects one of "
                + "\(ModelChoice.allCases.map(\.rawValue).joined(separator: ", ")), got '\(choice)'")
        }
        self.model = model
        do {
            gates = try GatePolicy.parse(try options.values("--gate"))
        } catch {
            throw WorkerUsageError(description: "worker trainer: \(error.description)")
        }
        try options.finish()
    }

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        let logger = Logger(label: "cidp.trainer")
        // Ready before the warehouse opens: one locked or failing at start is waited out, degraded.
        context.ready()
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "trainer", giveUpAfter: .seconds(600),
                                       haltsChain: isJob)
        let (warehouse, openedRows) = open(trouble: &trouble, context: context, logger: logger)
        var trainedRows = openedRows
        if let stale = try? BackupSeries(warehouse: databasePath, kind: Self.backupPrefix, in: backupDirectory).removeStalePartials(),
           !stale.isEmpty {
            logger.notice("Stale partial backups removed", metadata: ["backup.removed": "\(stale)"])
        }
        var trainedAt = Posix.monotonicNow()
        var isJobDone = false
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            let mark: Watermark?
            let isStreamLoaded: Bool
            do {
                (mark, isStreamLoaded) = try trouble.waitingOut("watermark read", watermark: 0) { () throws(WarehouseError) in
                    let mark = try warehouse.watermark()
                    guard let runID else { return (mark, false) }
                    return (mark, try warehouse.streamLoaded(runID) != nil)
                }
            } catch {
                workerFail("trainer: cannot read the watermark: \(error)")
            }
            let hasNewRows = mark.map { $0.rowsLoaded > 0 && $0.rowsLoaded != trainedRows } ?? false
            if isJob {
                // A job trains once this run's stream is committed, on what the warehouse then holds.
                if isStreamLoaded, !isJobDone {
                    if hasNewRows, let mark {
                        // With `quarantine_and_continue` the gate may hold training: the job ends untrained.
                        let trained = passesWarehouseGate(warehouse: warehouse, watermark: mark.batchID, context: context,
                                                          logger: logger)
                        if trained { train(warehouse: warehouse, context: context, logger: logger) }
                        trainedRows = mark.rowsLoaded
                    } else {
                        logger.info("Nothing new since the last model: the job is done without training")
                    }
                    isJobDone = true
                    context.reportJobDone()
                }
            } else if hasNewRows, let mark,
                      trainedRows < 0 || mark.rowsLoaded - trainedRows >= retrainRows
                        || Posix.monotonicNow() - trainedAt >= retrainInterval {
                // Counted as done even when the gate holds it: it is judged again on new rows.
                let trained = passesWarehouseGate(warehouse: warehouse, watermark: mark.batchID, context: context,
                                                  logger: logger)
                if trained { train(warehouse: warehouse, context: context, logger: logger) }
                trainedRows = mark.rowsLoaded
                trainedAt = Posix.monotonicNow()
            }
            Posix.nap(for: .milliseconds(200))
        }
    }

    /// Opens the warehouse, waiting out a locked or failing one; a corrupt one halts. - Returns:
    /// it and the rows the newest model was trained on when that model is up to date (a restart
    /// after publishing, or a job re-run on unchanged data: not trained again), else −1.
    private func open(trouble: inout WarehouseTrouble, context: WorkerContext, logger: Logger) -> (Warehouse, Int64) {
        do {
            return try trouble.waitingOut("open", watermark: 0) { () throws(WarehouseError) in
                let warehouse = try Warehouse(path: databasePath, busyTimeout: .milliseconds(250))
                if let finding = try warehouse.fileCheck() {
                    Halt.stop(Halt.corruptWarehouse(databasePath, finding: finding), batch: nil, watermark: 0,
                              logger: logger, context: context)
                }
                let newest = try warehouse.listModels().max { $0.version < $1.version }
                guard let newest, let mark = try warehouse.watermark(), newest.watermarkBatch == mark.batchID else {
                    return (warehouse, -1)
                }
                logger.info("Model up to date", metadata: ["model.version": "\(newest.version)", "watermark.batch": "\(mark.batchID)"])
                return (warehouse, mark.rowsLoaded)
            }
        } catch {
            workerFail("trainer: \(error)", code: 2)
        }
    }

    /// Trains on the whole fact table and publishes the model and its predictions.
    ///
    /// Each warehouse step — the backup, reading the rows, reading the serving model, publishing —
    /// waits out the world's trouble (a full disk, an I/O error, a lock: `WarehouseTrouble`),
    /// degraded and retrying, the same step again: none of them has written anything when it
    /// fails (a backup is a `.partial` file until verified, a publish one transaction), so a retry
    /// is the whole step, and a trainer is never restarted for a disk that fills.
    private func train(warehouse: Warehouse, context: WorkerContext, logger: Logger) {
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "trainer", giveUpAfter: .seconds(600),
                                       haltsChain: isJob)
        // For a halt's event only: the batch the chain had committed.
        let committed: Watermark? = (try? warehouse.watermark()) ?? nil
        let watermark = committed?.batchID ?? 0
        Self.reportPreparing(step: 1, context: context)
        if backupKeep > 0 { backUp(logger: logger, trouble: &trouble, watermark: watermark) }
        Self.reportPreparing(step: 2, context: context)
        let data: TrainingData
        do {
            data = try trouble.waitingOut("read of the training data", watermark: watermark) { () throws(WarehouseError) in
                try warehouse.trainingData()
            }
        } catch {
            workerFail("trainer: cannot read the training data: \(error)")
        }
        let matrix = FeatureMatrix(columns: data.columns)
        let split = ClassificationMetrics.stratifiedSplit(labels: data.labels, testFraction: 0.2, seed: parameters.seed)
        let train = matrix.rows(split.train)
        let trainLabels = split.train.map { data.labels[$0] }
        logger.info("Training", metadata: ["rows": "\(data.labels.count)", "train": "\(split.train.count)",
                                           "test": "\(split.test.count)", "model": "\(model.rawValue)",
                                           "trees": "\(parameters.treeCount)"])
        // From here to the publish, each step on a million noisy rows takes seconds to tens of
        // seconds on a loaded machine: every one keeps the heartbeats going (watchdog_ms).
        let heartbeat = { (_: Int) in
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
        }
        let testMatrix = matrix.rows(split.test)
        let testLabels = split.test.map { data.labels[$0] }
        // `best`: both kinds, judged on the same holdout; the higher ROC-AUC serves (the forest on a tie).
        var judged: [(kind: ModelKind, candidate: Candidate, metrics: ModelMetrics)] = []
        for kind in model.kinds {
            let candidate = fit(kind, train, labels: trainLabels, context: context)
            if Termination.isRequested { exit(0) }
            heartbeat(0)
            var metrics = Self.holdoutMetrics(served: candidate.served, test: testMatrix, labels: testLabels,
                                              trainRows: split.train.count, calibration: candidate.calibration?.fittedOn,
                                              progress: heartbeat)
            metrics.fitSeconds = candidate.fitSeconds
            logger.info("Model fitted", metadata: ["model": "\(kind.rawValue)", "roc_auc": "\(metrics.rocAUC)",
                                                   "f1": "\(metrics.f1)", "brier": "\(metrics.brier ?? .nan)",
                                                   "fit.s": "\(candidate.fitSeconds)"])
            judged.append((kind, candidate, metrics))
        }
        let best = judged.dropFirst().reduce(judged[0]) { best, next in
            next.metrics.rocAUC > best.metrics.rocAUC ? next : best
        }
        let chosen = best.candidate
        var metrics = best.metrics
        if judged.count > 1 {
            metrics.candidates = judged.map {
                CandidateFigures(kind: $0.kind, rocAUC: $0.metrics.rocAUC, f1: $0.metrics.f1,
                                 brier: $0.metrics.brier, fitSeconds: $0.metrics.fitSeconds)
            }
        }
        let served = chosen.served
        heartbeat(0)
        let serving: ModelRecord?
        do {
            serving = try trouble.waitingOut("read of the serving model", watermark: watermark) { () throws(WarehouseError) in
                try warehouse.servingModel()
            }
        } catch {
            workerFail("trainer: cannot read the serving model: \(error)")
        }
        // The watermark read in the same snapshot as the rows.
        let candidate = NewModel(parameters: chosen.parameters, metrics: metrics, rowCount: Int64(data.labels.count),
                                 dataFingerprint: data.fingerprint, watermarkBatch: data.watermark?.batchID ?? 0,
                                 model: chosen.blob, status: .serving, reason: nil, kind: served.kind,
                                 calibration: chosen.calibration?.json)
        heartbeat(0)
        do {
            switch promotion.verdict(candidate: metrics, serving: serving?.metrics, servingVersion: serving?.version) {
            case .promote:
                // The publish step (scoring every row, then one transaction) takes seconds on a big
                // warehouse: the console shows which of its two steps runs.
                let rows = Int64(data.labels.count)
                context.reportProgress(stage: "publish", counters: ["step": 0, "steps": 2, "rows": rows])
                // Through the served model's one scoring call: what the predictor answers for these rows.
                let scores = served.scores(matrix, progress: heartbeat)
                context.reportProgress(stage: "publish", counters: ["step": 1, "steps": 2, "rows": rows])
                var inTraining = [UInt8](repeating: 0, count: data.labels.count)
                for row in split.train { inTraining[row] = 1 }
                let predictions = Predictions(data: data, riskScores: scores.map(\.risk), predicted: scores.map(\.predictedFailure),
                                              inTraining: inTraining)
                let version = try trouble.waitingOut("publish", watermark: watermark) { () throws(WarehouseError) in
                    try warehouse.publish(model: candidate, predictions: predictions, onProgress: heartbeat)
                }
                context.reportProgress(stage: "publish", counters: ["step": 2, "steps": 2, "rows": rows])
                logger.notice("Model published", metadata: [
                    "model.version": "\(version)", "roc_auc": "\(metrics.rocAUC)", "precision": "\(metrics.precision)",
                    "recall": "\(metrics.recall)", "f1": "\(metrics.f1)", "rows": "\(data.labels.count)",
                ])
            case .reject(let reason):
                let version = try trouble.waitingOut("record of a rejected model", watermark: watermark) { () throws(WarehouseError) in
                    try warehouse.recordRejected(candidate, reason: reason)
                }
                logger.warning("Model rejected; the serving model stays", metadata: [
                    "model.version": "\(version)", "reason": "\(reason)", "serving.version": "\(serving?.version ?? 0)",
                ])
            }
        } catch {
            workerFail("trainer: cannot register the model: \(error)")
        }
    }
}

extension TrainerWorker {
    /// Before the trees, for the console: `step` of the three steps before training done (the
    /// warehouse gate, the backup, reading the training data), each of which can take seconds.
    static func reportPreparing(step: Int64, context: WorkerContext) {
        context.reportProgress(stage: "prepare", counters: ["step": step, "steps": 3])
    }

    /// The warehouse gate, before every training: no open halt (a chain stopped by a gate and not
    /// resumed), `PRAGMA quick_check` clean, and the ETL counts reconciled (every batch's extracted
    /// records loaded, dropped or quarantined; the fact table holding exactly the rows loaded).
    /// On a violation with action `halt` the trainer reports `halted` and never trains; with
    /// `quarantine_and_continue` it skips this training and tries again when new rows arrive.
    /// - Returns: whether training may go ahead.
    func passesWarehouseGate(warehouse: Warehouse, watermark: UInt64, context: WorkerContext, logger: Logger) -> Bool {
        Self.reportPreparing(step: 0, context: context)
        let halts: [QuarantineEntry]
        let report: IntegrityReport
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "trainer", giveUpAfter: .seconds(600),
                                       haltsChain: isJob)
        do {
            (halts, report) = try trouble.waitingOut("check before training", watermark: watermark) { () throws(WarehouseError) in
                // integrity_check, not quick_check: an index that disagrees with its table is found too.
                (try warehouse.openHalts { _ in context.heartbeatIfDue() },
                 try warehouse.integrityCheck(thorough: true) { _ in context.heartbeatIfDue() })
            }
        } catch {
            workerFail("trainer: cannot check the warehouse before training: \(error)")
        }
        if case .failed(let finding) = report.quickCheck {
            // Malformed: never trained on, whatever the gate's action; the way back is a backup.
            logger.error("Integrity gate refused training: the warehouse is corrupt", metadata: [
                "event": "gate_violation", "gate": "warehouse", "action": "halt", "reason": "\(finding)",
            ])
            Halt.stop(Halt.corruptWarehouse(databasePath, finding: finding), batch: nil, watermark: watermark,
                      logger: logger, context: context)
        }
        if let halt = halts.first {
            logger.warning("Training held: the chain is halted", metadata: [
                "event": "training_held", "batch": "\(halt.batchID)", "gate": "\(halt.gate)", "reason": "\(halt.reason)",
            ])
            return false
        }
        guard let failure = report.firstFailure else {
            logger.info("Warehouse gate passed", metadata: [
                "event": "gate_passed", "gate": "warehouse", "extracted": "\(report.totals.extracted)",
                "loaded": "\(report.totals.loaded)", "dropped": "\(report.totals.dropped)",
                "quarantined": "\(report.totals.quarantined)",
            ])
            return true
        }
        let action = gates.action(for: .warehouse)
        logger.error("Integrity gate refused training", metadata: [
            "event": "gate_violation", "gate": "warehouse", "action": "\(action)", "reason": "\(failure)",
        ])
        guard action == .halt else { return false }
        Halt.stop("gate 'warehouse' refused training: \(failure)", batch: nil, watermark: watermark,
                  logger: logger, context: context)
    }

    static let backupPrefix = BackupSeries.preTrainingKind

    /// A verified online backup of the warehouse before training replaces its predictions, in the
    /// warehouse's own series (`STEM-pre-train-YYYYMMDD-HHMMSS-mmm[-N].sqlite`, never skipped for a
    /// taken name), unless nothing changed since the newest one; the newest `backupKeep` are kept
    /// (`Warehouse.backUpIfChanged`). The world's trouble (a full disk, an I/O error) is waited
    /// out, degraded; a backup that cannot be made and verified (`PRAGMA integrity_check`) for any
    /// other reason stops the trainer (it is restarted by its policy): no training without one.
    func backUp(logger: Logger, trouble: inout WarehouseTrouble, watermark: UInt64) {
        let series = BackupSeries(warehouse: databasePath, kind: Self.backupPrefix, in: backupDirectory)
        let outcome: AutomaticBackup
        do {
            outcome = try trouble.waitingOut("backup before training", watermark: watermark) { () throws(WarehouseError) in
                try Warehouse.backUpIfChanged(databasePath, into: series, keep: backupKeep)
            }
        } catch {
            workerFail("trainer: no training without a backup: \(error)")
        }
        switch outcome {
        case .taken(let report, let deleted, let partials):
            logger.notice("Backup before training", metadata: [
                "backup.path": "\(report.path)", "fact.rows": "\(report.factRows)", "integrity_check": "\(report.integrity)",
                "backup.rotated": "\(deleted.count)", "backup.stale_partials": "\(partials.count)",
            ])
        case .unchanged(let newest, let mark, let deleted, let partials):
            logger.notice("Backup before training: unchanged since the newest", metadata: [
                "backup.path": "\(newest)", "warehouse.mark": "\(mark)", "backup.rotated": "\(deleted.count)",
                "backup.stale_partials": "\(partials.count)",
            ])
        }
    }
}

extension JSONEncoder {
    /// Sorted keys: the same parameters always encode to the same text.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
