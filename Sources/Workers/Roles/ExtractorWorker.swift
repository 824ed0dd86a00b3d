import Logging
import Pipeline
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `extractor` role: pages through the sensor API from the source position the warehouse
/// last committed, sends each page downstream as a numbered batch, and keeps the unacknowledged
/// ones for a restarted transformer. While the API is unreachable it retries with capped
/// exponential backoff and reports `degraded` — it does not crash-loop — until its
/// `--give-up-after-s` deadline.
///
/// Every batch carries the source position after it (`SourcePosition`): the next page's cursor
/// after a full page; after a page the source had only partly filled (its head, "for now"), that
/// page's own cursor and how many of its records were taken. So a job loads what the source has
/// *now*, and the next job — or a `--follow` run — asks for that page again and continues exactly
/// where the warehouse stands.
///
/// Options: `--source URL` and `--db PATH` (required), `--page-size N` (default 1000; at most
/// the API's own largest page, or every page looks like the head), `--window N`
/// (unacknowledged batches held, default 8), `--follow` (a growing source: only full pages become
/// batches — a batch must be the same whenever it is fetched — and a page that is not full is
/// asked for again every `--poll-ms` milliseconds, default 1000; without it, a job: the first page
/// that is not full, or has no next cursor, is the end of this run's stream),
/// `--malformed-limit N` (default 10; 0 retries forever): a page whose body is malformed N times
/// in a row is the source's data, not the network — the record gate's schema check refuses it and
/// the extractor reports `halted`, so the chain stops instead of retrying the same broken page
/// forever; `--give-up-after-s S` (a page failing for S seconds with errors worth retrying —
/// unreachable, 5xx, timeouts — ends the retries and halts the chain with the last error;
/// default 600 for a job, 0 = never for `--follow`).
///
/// The source's contract (README, "The source contract") is checked where the run resumes: a
/// page now holding fewer records than the warehouse took from it, or a refused resume cursor
/// (HTTP 4xx), means the source has fewer records than the warehouse or is another source; the
/// chain halts naming both, and nothing is loaded. A full page whose `next_cursor` does not
/// advance (itself, or back to a cursor of this run) halts the chain too, the pages before it loaded.
///
/// How it speaks to the source and reads its pages — field names, timestamp form, credential,
/// CA bundle, body limit, request deadline, redirects — is `ExtractorSourceOptions`. A body past
/// the limit halts the chain (retrying would fetch it again), as does a `Retry-After` past the
/// give-up deadline.
public struct ExtractorWorker {
    let source: String
    let databasePath: String
    let pageSize: Int
    let windowSize: Int
    let follows: Bool
    let pollInterval: Duration
    let malformedLimit: Int
    let giveUpAfter: Duration?
    let sourceOptions: ExtractorSourceOptions

    /// - Parameter environment: variables the worker gets on top of this process's own (its
    ///   `env` in the policy, when `cidp up` checks the options before starting it).
    public init(arguments: [String], environment: [String: String] = [:]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "extractor")
        source = try options.required("--source")
        databasePath = try options.required("--db")
        pageSize = try options.integer("--page-size", default: 1000, range: 1...10_000)
        windowSize = try options.integer("--window", default: 8, range: 1...1024)
        follows = options.flag("--follow")
        pollInterval = .milliseconds(try options.integer("--poll-ms", default: 1000, range: 10...3_600_000))
        malformedLimit = try options.integer("--malformed-limit", default: 10, range: 0...1_000_000)
        let giveUpSeconds = try options.integer("--give-up-after-s", default: follows ? 0 : Self.jobGiveUpSeconds,
                                                range: 0...31_536_000)
        giveUpAfter = giveUpSeconds > 0 ? .seconds(giveUpSeconds) : nil
        sourceOptions = try ExtractorSourceOptions(parsing: &options, environment: environment)
        try options.finish()
        guard source.hasPrefix("http://") || source.hasPrefix("https://") else {
            throw WorkerUsageError(description: "worker extractor: --source expects an http:// or https:// URL, got '\(source)'")
        }
        // A password in the URL would be in every process listing and log line.
        let afterScheme = source.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).dropFirst(2).first ?? ""
        guard !afterScheme.prefix(while: { $0 != "?" && $0 != "#" }).contains("@") else {
            throw WorkerUsageError(description: "worker extractor: --source must not hold a user or password; "
                + "give the credential with --auth and --auth-token-file or --auth-token-env")
        }
    }

    /// A job's default `--give-up-after-s`: ten minutes of a source failing ends the night's job.
    public static let jobGiveUpSeconds = 600

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        let logger = Logger(label: "cidp.extractor")
        // Ready before the warehouse is read: a warehouse locked or failing at start is waited
        // out, degraded, rather than a start that fails and is restarted.
        context.ready()
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "extractor", giveUpAfter: giveUpAfter ?? .seconds(600), haltsChain: !follows)
        var nextBatchID: UInt64
        var position: SourcePosition
        /// Records the warehouse holds from this source: what the contract check names.
        var recordsInWarehouse: Int64 = 0
        do {
            (nextBatchID, position, recordsInWarehouse) = try trouble.waitingOut("checkpoint read", watermark: 0) {
                () throws(WarehouseError) in
                let warehouse = try Warehouse(path: databasePath, busyTimeout: .milliseconds(200))
                if let finding = try warehouse.fileCheck() {
                    Halt.stop(Halt.corruptWarehouse(databasePath, finding: finding), batch: nil, watermark: 0,
                              logger: logger, context: context)
                }
                let checkpoint = try warehouse.checkpoint()
                return ((checkpoint?.batchID ?? 0) + 1, checkpoint?.position ?? .start,
                        checkpoint == nil ? 0 : try warehouse.batchTotals().extracted)
            }
        } catch {
            workerFail("extractor: cannot read the checkpoint in \(databasePath): \(error)", code: 2)
        }
        let resumesAt = position
        var output: DataChannel
        var fetcher: TelemetryFetcher
        do {
            output = try DataChannel(fd: WireLayout.outputFD, name: "extractor→transformer")
            let client = try HTTPClient(configuration: sourceOptions.client)
            // libcurl calls this at least about once a second during a request: a slow source
            // within its deadline is not a hung worker, and SIGTERM ends a request at once.
            client.onProgress = {
                context.heartbeatIfDue()
                return !Termination.isRequested
            }
            fetcher = TelemetryFetcher(baseURL: source, pageSize: pageSize,
                                       schedule: RetrySchedule(initial: .milliseconds(100), maximum: .seconds(2)),
                                       client: client, shouldStop: {
                                           // Called every 50 ms while waiting to retry.
                                           context.heartbeatIfDue()
                                           return Termination.isRequested
                                       })
            fetcher.malformedLimit = malformedLimit > 0 ? malformedLimit : nil
            fetcher.giveUpAfter = giveUpAfter
            fetcher.format = sourceOptions.format
        } catch {
            workerFail("extractor: \(error)", code: 2)
        }
        var unacked = UnackedBatches(capacity: windowSize)
        var end: EndOfStream?
        var records: Int64 = 0
        var retries: Int64 = 0
        var isDegraded = false
        var progress = ProgressReporter(stage: "extract", counter: "records")
        var nextFetch = WorkerContext.monotonicNow()
        var cursors = CursorHistory(start: position.cursor)
        logger.info("Extractor ready", metadata: ["source": "\(source)", "resumes.at": "\(position)"])

        /// Halts the chain: the source broke its contract where this run resumes.
        func contractBroken(_ what: String) -> Never {
            let message = "the source has fewer records than the warehouse, or is not the same source: \(what); "
                + "the warehouse holds \(recordsInWarehouse) records from it, through batch \(nextBatchID - 1); "
                + "nothing loaded (README, 'The source contract')"
            logger.error("Source contract broken", metadata: [
                "event": "source_contract", "resumes.at": "\(resumesAt)", "reason": "\(message)",
                "watermark.batch": "\(nextBatchID - 1)",
            ])
            Halt.stop(message, batch: nil, watermark: nextBatchID - 1, logger: logger, context: context)
        }

        /// Halts the chain once every batch sent is acknowledged — committed by the loader — so
        /// the pages before the one that stops the run are loaded, not left for the next run.
        func halt(_ message: String) -> Never {
            while !unacked.entries.isEmpty {
                if Termination.isRequested { exit(0) }
                context.heartbeatIfDue()
                do {
                    for frame in try output.receive() {
                        switch frame.kind {
                        case .ack: unacked.acknowledge(upTo: try BatchAck(decoding: frame.payload).batchID)
                        case .resend: try unacked.resend(on: &output)
                        default: break
                        }
                    }
                } catch {
                    break  // the channel failed: halt now; the next run resumes from the checkpoint
                }
                if !unacked.entries.isEmpty { DataChannel.wait(for: [output.fd], timeout: .milliseconds(50)) }
            }
            Halt.stop(message, batch: nil, watermark: nextBatchID - 1, logger: logger, context: context)
        }

        /// Halts the chain: the source's pages cannot be read to their end (a cursor that does not
        /// advance, a body past the limit); what came before is loaded.
        func sourceBroken(_ what: String, event: String) -> Never {
            let message = "sensor API: \(what); the pages before it are loaded"
            logger.error("Source cannot be read on", metadata: [
                "event": "\(event)", "cursor": "\(position)", "reason": "\(message)", "watermark.batch": "\(nextBatchID - 1)",
            ])
            halt(message)
        }

        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            do {
                for frame in try output.receive() {
                    switch frame.kind {
                    case .ack: unacked.acknowledge(upTo: try BatchAck(decoding: frame.payload).batchID)
                    case .resend:
                        try unacked.resend(on: &output)
                        if let end { try output.send(.endOfStream, end.encoded()) }
                    default: workerFail("extractor: unexpected \(frame.kind) frame \(frame.sequence) from the transformer")
                    }
                }
                if end == nil, !unacked.isFull, WorkerContext.monotonicNow() >= nextFetch {
                    let page: TelemetryPage
                    do throws(ExtractError) {
                        page = try fetcher.fetch(cursor: position.cursor) { attempt, error, delay in
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
                        if position == resumesAt, resumesAt != .start, Self.refusesPosition(error) {
                            contractBroken("it refused the warehouse's resume position, \(resumesAt): \(error)")
                        }
                        throw error
                    }
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
                        nextFetch = WorkerContext.monotonicNow() + pollInterval
                    } else {
                        // A job: what the source has now ends here. The next run asks for this
                        // page again and takes what follows the records taken now.
                        let after = SourcePosition(cursor: position.cursor, skip: page.records.count)
                        if !fresh.isEmpty { try send(fresh, ending: after) }
                        position = after
                        let last = EndOfStream(lastBatchID: nextBatchID - 1, records: UInt64(records))
                        end = last
                        try output.send(.endOfStream, last.encoded())
                        logger.notice("Source read to its end for this run", metadata: [
                            "last.batch": "\(last.lastBatchID)", "records": "\(records)", "next.run.resumes.at": "\(position)",
                        ])
                    }
                }
            } catch let error as ExtractError {
                switch error.code {
                case .malformedBody:
                    let page = position.cursor.map { "the page at cursor '\($0)'" } ?? "the first page"
                    let message = "gate 'record' refused \(page): "
                        + "\(malformedLimit) malformed bodies in a row: \(error)"
                    logger.error("Integrity gate refused a page", metadata: [
                        "event": "gate_violation", "gate": "record", "cursor": "\(position)",
                        "reason": "\(message)", "watermark.batch": "\(nextBatchID - 1)",
                    ])
                    halt(message)
                case .tooLarge:
                    sourceBroken("\(error)", event: "source_too_large")
                case .gaveUp, .retryAfterPastDeadline:
                    let message = "sensor API: \(error)"
                    logger.error("Source given up", metadata: [
                        "event": "source_gave_up", "reason": "\(message)", "watermark.batch": "\(nextBatchID - 1)",
                    ])
                    halt(message)
                case .stopped:
                    exit(0)
                default:
                    workerFail("extractor: \(error)")
                }
            } catch {
                workerFail("extractor: \(error)")
            }
            // Counted from the warehouse's committed batches (the checkpoint this start resumed
            // from), not from this start: after a restart the count goes on.
            let extracted = recordsInWarehouse + records
            progress.report(["records": extracted, "records_in": extracted, "records_out": extracted,
                             "batches_unacked": Int64(unacked.entries.count), "retries": retries],
                            context: context)
            if end != nil || unacked.isFull || WorkerContext.monotonicNow() < nextFetch {
                DataChannel.wait(for: [output.fd], timeout: .milliseconds(50))
            }
        }

        /// Sends `fresh` as the next batch, ending at `after`, and keeps it until acknowledged.
        func send(_ fresh: [TelemetryRecord], ending after: SourcePosition) throws(WireError) {
            let payload = RecordBatch(batchID: nextBatchID, position: after, records: fresh).encoded()
            try output.send(.recordBatch, payload)
            unacked.append(batchID: nextBatchID, kind: .recordBatch, payload: payload)
            nextBatchID += 1
            records += Int64(fresh.count)
        }
    }

    /// Whether `error`, for the page at the warehouse's resume position, says the source does not
    /// have that position: a 4xx other than those asking to retry or to authenticate.
    static func refusesPosition(_ error: ExtractError) -> Bool {
        guard case .httpStatus(let status, _) = error.code else { return false }
        return (400..<500).contains(status) && ![401, 403, 407, 408, 429].contains(status)
    }
}
