import Pipeline
import Posix
import Wire
#if canImport(Glibc)
import Glibc
#endif

extension ExtractorDriver {
    /// Asks the source for the page at `position` (retrying what is worth retrying, degraded
    /// meanwhile) and cuts it into the next batch: a full page moves on to its next cursor; a page
    /// that is not full is asked for again later (`--follow`) or ends this run's stream (a job).
    /// - Throws: `ExtractError` when the page cannot be had, `WireError` when the batch cannot be sent.
    mutating func fetchNext() throws {
        let page = try fetchPage()
        if Termination.isRequested { exit(0) }
        if isDegraded {
            isDegraded = false
            context.reportHealth(degraded: nil)
        }
        // More than asked for would make a batch of unbounded size; the source ignores `limit`.
        guard page.records.count <= pageSize else {
            sourceBroken("the page at \(SourcePosition(cursor: position.cursor)) holds \(page.records.count) records, "
                + "more than the \(pageSize) asked for (limit): set the extractor's --page-size to the source's page size",
                         event: "source_page_size")
        }
        guard page.records.count >= position.skip else {
            contractBroken("its page at \(SourcePosition(cursor: position.cursor)) holds \(page.records.count) "
                + "records, where the warehouse took \(position.skip)")
        }
        let fresh = Array(page.records.dropFirst(position.skip))
        // A cursor is committed as the warehouse's position: the source's text, bounded
        // and checked before it goes anywhere near the checkpoint.
        if let next = page.nextCursor, let problem = SourcePosition.problem(withCursor: next) {
            let page = position.cursor.map { "the page at cursor '\($0)'" } ?? "the first page"
            let message = "gate 'record' refused \(page): its next_cursor \(problem)"
            logger.error("Integrity gate refused a page", metadata: [
                "event": "gate_violation", "gate": "record", "reason": "\(message)", "watermark.batch": "\(nextBatchID - 1)",
            ])
            Halt.stop(message, batch: nil, watermark: nextBatchID - 1, logger: logger, context: context)
        }
        // A full page is fixed: its records and next cursor are the same whenever it is
        // asked for. A page that is not full is the head of the source, for now.
        if let next = page.nextCursor, page.records.count >= pageSize {
            if let problem = cursors.check(next: next, after: position.cursor) {
                sourceBroken(problem, event: "source_cursor")
            }
            let after = SourcePosition(cursor: next)
            if !fresh.isEmpty { try send(fresh, ending: after) }
            position = after
        } else if follows {
            // Only full pages become batches: a restarted extractor must number the
            // same records under the same id. Ask for this page again later.
            nextFetch = Posix.monotonicNow() + pollInterval
        } else {
            // A job: what the source has now ends here. The next run asks for this
            // page again and takes what follows the records taken now.
            let after = SourcePosition(cursor: position.cursor, skip: page.records.count)
            if !fresh.isEmpty { try send(fresh, ending: after) }
            position = after
            try endStream()
        }
    }

    /// The page at `position`, retried with backoff (degraded while it fails); a resume position
    /// the source refuses breaks its contract.
    private mutating func fetchPage() throws(ExtractError) -> TelemetryPage {
        let context = context, logger = logger
        var retries = retries, isDegraded = isDegraded
        defer {
            self.retries = retries
            self.isDegraded = isDegraded
        }
        do throws(ExtractError) {
            return try fetcher.fetch(cursor: position.cursor) { attempt, error, delay in
                retries += 1
                context.heartbeatIfDue()
                if !isDegraded {
                    isDegraded = true
                    context.reportHealth(degraded: "sensor API: \(error)")
                }
                logger.warning("Fetch failed; retrying", metadata: [
                    "attempt": "\(attempt)", "error": "\(error)", "retry.in.ms": "\(delay.milliseconds)",
                ])
            }
        } catch {
            if position == resumesAt, resumesAt != .start, ExtractorWorker.refusesPosition(error) {
                contractBroken("it refused the warehouse's resume position, \(resumesAt): \(error)")
            }
            throw error
        }
    }
}
