import Logging
import Pipeline
import Wire

extension LoaderDriver {
    /// Commits `group` in one transaction with the checkpoint, then acknowledges it upstream; a
    /// poison pill among it halts the chain once committed.
    mutating func commit(_ group: Group) {
        let pending = group.batches
        let first = pending[0].batch.batchID
        let last = pending[pending.count - 1].batch.batchID
        let item = WorkItem(first: first, last: last).description
        context.reportWorking(on: item)
        faults.beforeCommit(batches: first...last, role: "loader")
        for batch in pending where batch.quarantine == nil {
            CrashInjection.crashIfArmed(batchID: batch.batch.batchID, role: "loader")
        }
        do {
            // A full disk or an I/O error is the world's, not the batch's: waited out,
            // degraded, the same group committed once it clears (nothing quarantined).
            let context = context, warehouse = warehouse
            var isBlocked = isBlocked
            let outcomes = try trouble.waitingOut("commit of \(item)", item: item, watermark: sink.committed) {
                () throws(WarehouseError) in
                try warehouse.commit(pending) { waited in
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
            self.isBlocked = isBlocked
            count(outcomes, of: pending)
        } catch {
            workerFail("loader: batches \(first)...\(last): \(error)")
        }
        context.reportWorking(on: nil)
        let acknowledgement = sink.committed(through: last)
        lastWindowState = pending[pending.count - 1].windowState
        counters["batches", default: 0] += Int64(pending.count)
        counters["dropped", default: 0] += Int64(group.dropped)
        // Acknowledgements are cumulative: the last id stands for the whole group.
        do { for message in acknowledgement { try input.send(message) } } catch {
            workerFail("loader: cannot acknowledge batch \(last): \(error)")
        }
        if let pill = pending.first(where: { $0.batch.batchID == group.ownPill }) {
            let message = Halt.message(gate: GateName.poisonPill.rawValue, batchID: pill.batch.batchID,
                                       reason: pill.quarantine?.reason ?? "")
            flow()
            progress.report(counters, context: context, force: true)
            Halt.stop(message, batch: pill.batch.batchID, watermark: sink.committed, logger: logger, context: context)
        }
    }

    private mutating func count(_ outcomes: [CommitOutcome], of pending: [Warehouse.PendingBatch]) {
        for (batch, outcome) in zip(pending, outcomes) {
            switch outcome {
            case .committed(let inserted, let duplicates):
                counters["rows_loaded", default: 0] += Int64(inserted)
                counters["duplicates", default: 0] += Int64(duplicates)
            case .quarantined(let records, let action):
                counters["quarantined", default: 0] += Int64(records)
                logger.warning("Batch quarantined", metadata: [
                    "event": "quarantined", "batch": "\(batch.batch.batchID)",
                    "gate": "\(batch.quarantine?.gate ?? "")", "action": "\(action.rawValue)",
                    "records": "\(records)", "reason": "\(batch.quarantine?.reason ?? "")",
                    "watermark.batch": "\(batch.batch.batchID)",
                ])
            case .alreadyCommitted:
                break
            }
        }
    }

    /// Everything up to the end of the stream is committed: record it for this run's trainer, and
    /// in a job, tell the supervisor the job is done.
    mutating func streamLoaded(_ end: EndOfStream) {
        if let runID {
            do {
                let committed = sink.committed, context = context, warehouse = warehouse
                try trouble.waitingOut("record of run \(runID)", watermark: committed) { () throws(WarehouseError) in
                    try warehouse.recordStreamLoaded(runID, lastBatchID: committed) { _ in context.heartbeatIfDue() }
                }
            } catch {
                workerFail("loader: cannot record that run \(runID)'s stream is loaded: \(error)")
            }
        }
        progress.report(counters, context: context, force: true)
        logger.notice("Stream loaded", metadata: ["last.batch": "\(end.lastBatchID)", "run": "\(runID ?? "")"])
        if isJob { context.reportJobDone() }
    }
}
