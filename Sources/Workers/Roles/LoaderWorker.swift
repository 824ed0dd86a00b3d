import Logging
import Pipeline
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `loader` role: commits transformed batches to the warehouse, each with the checkpoint,
/// all the batches waiting in one transaction (a group commit), and acknowledges them upstream
/// only after the commit. Batches are applied strictly in order; a duplicate (already
/// committed) is acknowledged again, never re-applied.
///
/// Options: `--db PATH` (required), `--run-id ID` (this run: once the end of its stream is
/// committed the loader records it in `etl_runs`, which that run's trainer waits for), `--job`
/// (the loader is the job's last stage: it tells the supervisor the job is done once the end of
/// the stream is committed), `--lock-deadline-ms N` (how long a locked warehouse may block one commit before
/// the loader fails loudly; default 600000). For `cidp drill oom`: `FaultInjection` from the environment.
///
/// Poison pills: the loader says which batch it commits (`working`), and its first
/// `singleCommitsAfterStart` commits after a start hold one batch each, so a batch that crashes
/// it is the one named after a restart, not the group it was in. Told at start that a batch
/// crashed it `poison_pill_crashes` times in a row, the loader quarantines that batch (gate
/// `poison_pill`, with the crash evidence) instead of committing it, checkpointed with the
/// window state from before it, and halts the chain: the transformer's later batches were
/// computed with the pill in their rolling windows, so the chain must resume from the
/// checkpoint (`cidp resume`), which recomputes them without it.
public struct LoaderWorker {
    let databasePath: String
    let isJob: Bool
    let runID: String?
    let lockDeadline: Duration
    let ioGiveUpAfter: Duration

    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "loader")
        databasePath = try options.required("--db")
        isJob = options.flag("--job")
        runID = try options.value("--run-id")
        lockDeadline = .milliseconds(try options.integer("--lock-deadline-ms", default: 600_000, range: 1...86_400_000))
        let giveUp = try options.integer("--io-give-up-after-s", default: 600, range: 0...31_536_000)
        ioGiveUpAfter = giveUp == 0 ? .seconds(Int64.max / 2_000_000_000) : .seconds(giveUp)
        try options.finish()
    }

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        let logger = Logger(label: "cidp.loader")
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "loader", giveUpAfter: ioGiveUpAfter,
                                       haltsChain: isJob || runID != nil)   // a job (its run id) halts; --follow restarts
        // Ready before the warehouse opens: a warehouse locked or failing at start is waited out,
        // degraded, rather than a start that fails and is restarted.
        context.ready()
        let (warehouse, committed, lastWindowState) = open(context: context, logger: logger, trouble: &trouble)
        var input: DataChannel
        do {
            input = try DataChannel(fd: WireLayout.inputFD, name: "transformer→loader")
            try input.send(BatchSequencer.startRequest)
        } catch {
            workerFail("loader: no input channel: \(error)", code: 2)
        }
        let faults = FaultInjection.fromEnvironment(role: "loader")
        logger.info("Loader ready", metadata: ["db": "\(databasePath)", "committed.batch": "\(committed)"])

        // The counters count from the warehouse (its batch totals), not from this process's
        // start: after a restart they go on where the last incarnation's commits left them.
        let totals: IntegrityReport.Totals
        do { totals = try warehouse.batchTotals() } catch {
            workerFail("loader: cannot read the batch totals: \(error)", code: 2)
        }
        var driver = LoaderDriver(
            context: context, logger: logger, warehouse: warehouse, runID: runID, isJob: isJob, faults: faults,
            trouble: trouble, sink: Sink(resumingAfter: committed, poisonPill: context.poisonPill), input: input,
            lastWindowState: lastWindowState,
            counters: ["rows_loaded": totals.loaded, "duplicates": totals.duplicates, "dropped": totals.dropped,
                       "quarantined": totals.quarantined, "batches": totals.batches])
        driver.flow()
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            driver.turn()
            if driver.held.isEmpty { DataChannel.wait(for: [input.fd], timeout: .milliseconds(50)) }
        }
    }

    /// Opens the warehouse (waiting out the world's trouble), records this run's start, and reads
    /// the checkpoint: the batch committed and the transformer state the last commit checkpointed
    /// (what a poison pill is quarantined with).
    private func open(context: WorkerContext, logger: Logger,
                      trouble: inout WarehouseTrouble) -> (Warehouse, UInt64, [UInt8]) {
        do {
            return try trouble.waitingOut("open", watermark: 0) {
                () throws(WarehouseError) in
                let warehouse = try Warehouse(path: databasePath, lockPolicy: LockPolicy(deadline: lockDeadline))
                // Nothing is written to a file SQLite finds malformed.
                if let finding = try warehouse.fileCheck() {
                    Halt.stop(Halt.corruptWarehouse(databasePath, finding: finding), batch: nil, watermark: 0,
                              logger: logger, context: context)
                }
                let checkpoint = try warehouse.checkpoint()
                if let runID {
                    var wasBlocked = false
                    try warehouse.recordRunStarted(runID) { waited in
                        context.heartbeatIfDue()
                        if !wasBlocked { context.reportHealth(degraded: "warehouse locked for \(waited.milliseconds) ms") }
                        wasBlocked = true
                    }
                    if wasBlocked { context.reportHealth(degraded: nil) }
                }
                return (warehouse, checkpoint?.batchID ?? 0, checkpoint?.windowState ?? TransformerState().encoded())
            }
        } catch {
            workerFail("loader: \(error)", code: 2)
        }
    }

    /// `transformed`, which crashed the loader again and again, as a quarantined batch: its
    /// records as the transformer made them, the crash evidence, and the checkpoint's window
    /// state left as before it.
    static func poisonPill(_ transformed: TransformedBatch, evidence: String, windowState: [UInt8]) -> Warehouse.PendingBatch {
        let batch = transformed.batch
        return Warehouse.PendingBatch(
            batch: RecordBatch(batchID: batch.batchID, position: batch.position, records: []),
            dropped: transformed.dropped + transformed.rejected, windowState: windowState,
            extracted: batch.records.count + transformed.dropped + transformed.rejected,
            quarantine: Quarantine(gate: GateName.poisonPill.rawValue, action: .halt,
                                   reason: "the batch crashed the loader repeatedly: \(evidence)", evidence: evidence,
                                   records: batch.records))
    }
}
