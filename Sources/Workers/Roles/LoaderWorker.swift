import Logging
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `loader` role: commits transformed batches to the warehouse, each with the checkpoint,
/// all the batches waiting in one transaction (a group commit), and acknowledges them upstream
/// only after the commit. Batches are applied strictly in order; a duplicate (already
/// committed) is acknowledged again, never re-applied.
///
/// Options: `--db PATH` (required), `--job` (ask the tree to stop once the end of the stream is
/// committed), `--lock-deadline-ms N` (how long a locked warehouse may block one commit before
/// the loader fails loudly; default 600000). For `cidp drill oom`: `FaultInjection` from the environment.
public struct LoaderWorker {
    let databasePath: String
    let isJob: Bool
    let lockDeadline: Duration

    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "loader")
        databasePath = try options.required("--db")
        isJob = options.flag("--job")
        lockDeadline = .milliseconds(try options.integer("--lock-deadline-ms", default: 600_000, range: 1...86_400_000))
        try options.finish()
    }

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        let logger = Logger(label: "cidp.loader")
        let warehouse: Warehouse
        var committed: UInt64
        do {
            warehouse = try Warehouse(path: databasePath, lockPolicy: LockPolicy(deadline: lockDeadline))
            committed = try warehouse.checkpoint()?.batchID ?? 0
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
        context.ready()
        logger.info("Loader ready", metadata: ["db": "\(databasePath)", "committed.batch": "\(committed)"])

        var counters: [String: Int64] = ["rows_loaded": 0, "duplicates": 0, "dropped": 0, "quarantined": 0, "batches": 0]
        var progress = ProgressReporter(stage: "load", counter: "rows_loaded")
        var end: EndOfStream?
        var finished = false
        var isBlocked = false
        var askedForResend = false
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            let frames: [Frame]
            do { frames = try input.receive() } catch { workerFail("loader: \(error)") }
            // The next batches in order, committed together: one transaction for all that wait.
            var group: [Warehouse.PendingBatch] = []
            var groupDropped = 0
            for frame in frames {
                switch frame.kind {
                case .transformedBatch:
                    let transformed: TransformedBatch
                    do { transformed = try TransformedBatch(decoding: frame.payload) } catch {
                        workerFail("loader: batch frame \(frame.sequence): \(error)")
                    }
                    let id = transformed.batch.batchID
                    let next = committed + UInt64(group.count) + 1
                    if id < next {
                        // Already committed (a re-send): acknowledge again, never apply again.
                        if id <= committed { try? input.send(.ack, BatchAck(batchID: id).encoded()) }
                        continue
                    }
                    // (A group is at most what one read returns: the transformer's window of
                    // unacknowledged batches, plus a re-send of it after a restart.)
                    guard id == next else {
                        // A gap: a batch taken by a killed loader. Ask once; the transformer re-sends in order.
                        if !askedForResend {
                            askedForResend = true
                            try? input.send(.resend)
                        }
                        continue
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
                    let next = committed + UInt64(group.count) + 1
                    if id < next {
                        if id <= committed { try? input.send(.ack, BatchAck(batchID: id).encoded()) }
                        continue
                    }
                    guard id == next else {
                        if !askedForResend {
                            askedForResend = true
                            try? input.send(.resend)
                        }
                        continue
                    }
                    guard let action = QuarantineAction(rawValue: quarantined.action) else {
                        workerFail("loader: quarantined batch \(id) (frame \(frame.sequence)): unknown action '\(quarantined.action)'")
                    }
                    // Every record of the batch goes to quarantine, the dropped ones included.
                    group.append(Warehouse.PendingBatch(
                        batch: RecordBatch(batchID: id, cursor: quarantined.batch.cursor, records: []),
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
                faults.beforeCommit(batches: group[0].batch.batchID...last, role: "loader")
                do {
                    let outcomes = try warehouse.commit(group) { waited in
                        // Blocked by another connection's lock: stay visibly alive, and hold
                        // everything upstream (no acknowledgement, so the windows fill).
                        context.heartbeatIfDue()
                        if !isBlocked {
                            isBlocked = true
                            context.reportHealth(degraded: "warehouse locked for \(waited.milliseconds) ms")
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
                committed = last
                askedForResend = false
                counters["batches", default: 0] += Int64(group.count)
                counters["dropped", default: 0] += Int64(groupDropped)
                // Acknowledgements are cumulative: the last id stands for the whole group.
                do { try input.send(.ack, BatchAck(batchID: last).encoded()) } catch {
                    workerFail("loader: cannot acknowledge batch \(last): \(error)")
                }
            }
            counters["committed_batch"] = Int64(committed)
            progress.report(counters, context: context)
            if let end, committed >= end.lastBatchID, !finished {
                finished = true
                progress.report(counters, context: context, force: true)
                logger.notice("Stream loaded", metadata: ["last.batch": "\(end.lastBatchID)"])
                if isJob { context.requestStop() }
            }
            DataChannel.wait(for: [input.fd], timeout: .milliseconds(50))
        }
    }
}
