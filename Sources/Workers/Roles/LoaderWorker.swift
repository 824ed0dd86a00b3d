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
        let warehouse: Warehouse
        var committed: UInt64
        /// The transformer state the last commit checkpointed: what a poison pill is quarantined with.
        var lastWindowState: [UInt8]
        do {
            (warehouse, committed, lastWindowState) = try trouble.waitingOut("open", watermark: 0) {
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
        var input: DataChannel
        do {
            input = try DataChannel(fd: WireLayout.inputFD, name: "transformer→loader")
            try input.send(.resend)
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
        var counters: [String: Int64] = ["rows_loaded": totals.loaded, "duplicates": totals.duplicates,
                                         "dropped": totals.dropped, "quarantined": totals.quarantined,
                                         "batches": totals.batches]
        var progress = ProgressReporter(stage: "load", counter: "rows_loaded")
        /// `records_in`/`records_out` for `cidp status`: records that reached the warehouse
        /// (loaded, duplicate or quarantined), and fact rows loaded.
        func flow() {
            counters["records_in"] = counters["rows_loaded", default: 0] + counters["duplicates", default: 0]
                + counters["quarantined", default: 0]
            counters["records_out"] = counters["rows_loaded", default: 0]
        }
        flow()
        var end: EndOfStream?
        var finished = false
        var isBlocked = false
        var askedForResend = false
        /// Frames read but not applied yet: the group was full.
        var held: [Frame] = []
        var commitsSinceStart = 0
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            var frames = held
            held = []
            do { frames += try input.receive() } catch { workerFail("loader: \(error)") }
            // The next batches in order, committed together: one transaction for all that wait
            // (one at a time for the first commits after a start).
            let groupLimit = commitsSinceStart < Self.singleCommitsAfterStart ? 1 : Int.max
            var group: [Warehouse.PendingBatch] = []
            var groupDropped = 0
            /// A batch this loader quarantines as its own poison pill: the chain halts once it is committed.
            var ownPill: UInt64?
            /// Whether batch `id` is the next to apply. A batch already committed (a re-send) is
            /// acknowledged again, never applied again; a gap (a batch taken by a killed loader)
            /// asks once for a re-send, which comes in order. (A group is at most what one read
            /// returns: the transformer's window of unacknowledged batches, plus a re-send of it.)
            func isNext(_ id: UInt64, groupCount: Int) -> Bool {
                let next = committed + UInt64(groupCount) + 1
                if id < next {
                    if id <= committed { try? input.send(.ack, BatchAck(batchID: id).encoded()) }
                    return false
                }
                guard id == next else {
                    if !askedForResend {
                        askedForResend = true
                        try? input.send(.resend)
                    }
                    return false
                }
                return true
            }
            for (position, frame) in frames.enumerated() {
                if group.count >= groupLimit, frame.kind == .transformedBatch || frame.kind == .quarantinedBatch {
                    held = Array(frames[position...])
                    break
                }
                switch frame.kind {
                case .transformedBatch:
                    let transformed: TransformedBatch
                    do { transformed = try TransformedBatch(decoding: frame.payload) } catch {
                        workerFail("loader: batch frame \(frame.sequence): \(error)")
                    }
                    let id = transformed.batch.batchID
                    guard isNext(id, groupCount: group.count) else { continue }
                    if let pill = context.poisonPill, pill.item == "batch \(id)" {
                        group.append(Self.poisonPill(transformed, evidence: pill.evidence, windowState: lastWindowState))
                        ownPill = id
                        break
                    }
                    group.append(Warehouse.PendingBatch(batch: transformed.batch,
                                                        dropped: transformed.dropped + transformed.rejected,
                                                        windowState: transformed.windowState))
                    groupDropped += transformed.dropped
                case .quarantinedBatch:
                    let quarantined: QuarantinedBatch
                    do { quarantined = try QuarantinedBatch(decoding: frame.payload) } catch {
                        workerFail("loader: quarantined batch frame \(frame.sequence): \(error)")
                    }
                    let id = quarantined.batch.batchID
                    guard isNext(id, groupCount: group.count) else { continue }
                    guard let action = QuarantineAction(rawValue: quarantined.action) else {
                        workerFail("loader: quarantined batch \(id) (frame \(frame.sequence)): unknown action '\(quarantined.action)'")
                    }
                    // Every record of the batch goes to quarantine, the dropped ones included.
                    group.append(Warehouse.PendingBatch(
                        batch: RecordBatch(batchID: id, position: quarantined.batch.position, records: []),
                        dropped: 0, windowState: quarantined.windowState, extracted: quarantined.batch.records.count,
                        quarantine: Quarantine(gate: quarantined.gate, action: action, reason: quarantined.reason,
                                               evidence: quarantined.evidence.isEmpty ? nil : quarantined.evidence,
                                               records: quarantined.batch.records)))
                case .endOfStream:
                    do { end = try EndOfStream(decoding: frame.payload) } catch {
                        workerFail("loader: end-of-stream frame \(frame.sequence): \(error)")
                    }
                default:
                    workerFail("loader: unexpected \(frame.kind) frame \(frame.sequence) on its input")
                }
            }
            if let last = group.last?.batch.batchID {
                let first = group[0].batch.batchID
                let item = first == last ? "batch \(first)" : "batches \(first)…\(last)"
                context.reportWorking(on: item)
                faults.beforeCommit(batches: first...last, role: "loader")
                for pending in group where pending.quarantine == nil {
                    CrashInjection.crashIfArmed(batchID: pending.batch.batchID, role: "loader")
                }
                do {
                    // A full disk or an I/O error is the world's, not the batch's: waited out,
                    // degraded, the same group committed once it clears (nothing quarantined).
                    let outcomes = try trouble.waitingOut("commit of \(item)", item: item, watermark: committed) {
                        () throws(WarehouseError) in
                        try warehouse.commit(group) { waited in
                            // Blocked by another connection's lock: stay visibly alive, and hold
                            // everything upstream (no acknowledgement, so the windows fill).
                            context.heartbeatIfDue()
                            if !isBlocked {
                                isBlocked = true
                                context.reportHealth(degraded: "warehouse locked for \(waited.milliseconds) ms")
                            }
                        }
                    }
                    if isBlocked {
                        isBlocked = false
                        context.reportHealth(degraded: nil)
                    }
                    for (pending, outcome) in zip(group, outcomes) {
                        switch outcome {
                        case .committed(let inserted, let duplicates):
                            counters["rows_loaded", default: 0] += Int64(inserted)
                            counters["duplicates", default: 0] += Int64(duplicates)
                        case .quarantined(let records, let action):
                            counters["quarantined", default: 0] += Int64(records)
                            logger.warning("Batch quarantined", metadata: [
                                "event": "quarantined", "batch": "\(pending.batch.batchID)",
                                "gate": "\(pending.quarantine?.gate ?? "")", "action": "\(action.rawValue)",
                                "records": "\(records)", "reason": "\(pending.quarantine?.reason ?? "")",
                                "watermark.batch": "\(pending.batch.batchID)",
                            ])
                        case .alreadyCommitted:
                            break
                        }
                    }
                } catch {
                    workerFail("loader: batches \(group[0].batch.batchID)...\(last): \(error)")
                }
                context.reportWorking(on: nil)
                committed = last
                lastWindowState = group[group.count - 1].windowState
                commitsSinceStart += 1
                askedForResend = false
                counters["batches", default: 0] += Int64(group.count)
                counters["dropped", default: 0] += Int64(groupDropped)
                // Acknowledgements are cumulative: the last id stands for the whole group.
                do { try input.send(.ack, BatchAck(batchID: last).encoded()) } catch {
                    workerFail("loader: cannot acknowledge batch \(last): \(error)")
                }
                if let pill = group.first(where: { $0.batch.batchID == ownPill }) {
                    let message = Halt.message(gate: GateName.poisonPill.rawValue, batchID: pill.batch.batchID,
                                                                reason: pill.quarantine?.reason ?? "")
                    flow()
                    progress.report(counters, context: context, force: true)
                    Halt.stop(message, batch: pill.batch.batchID, watermark: committed, logger: logger, context: context)
                }
            }
            counters["committed_batch"] = Int64(committed)
            flow()
            progress.report(counters, context: context)
            if let end, committed >= end.lastBatchID, !finished {
                if let runID {
                    do {
                        try trouble.waitingOut("record of run \(runID)", watermark: committed) { () throws(WarehouseError) in
                            try warehouse.recordStreamLoaded(runID, lastBatchID: committed) { _ in context.heartbeatIfDue() }
                        }
                    } catch {
                        workerFail("loader: cannot record that run \(runID)'s stream is loaded: \(error)")
                    }
                }
                finished = true
                progress.report(counters, context: context, force: true)
                logger.notice("Stream loaded", metadata: ["last.batch": "\(end.lastBatchID)", "run": "\(runID ?? "")"])
                if isJob { context.reportJobDone() }
            }
            if held.isEmpty { DataChannel.wait(for: [input.fd], timeout: .milliseconds(50)) }
        }
    }

    /// Commits after a start that hold one batch each (the transformer's window).
    static let singleCommitsAfterStart = 8

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
