import Logging
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `extractor` role: pages through the sensor API from the cursor the warehouse last
/// committed, sends each page downstream as a numbered batch, and keeps the unacknowledged ones
/// for a restarted transformer. While the API is unreachable it retries with capped exponential
/// backoff and reports `degraded` — it does not crash-loop.
///
/// Options: `--source URL` and `--db PATH` (required), `--page-size N` (default 1000),
/// `--window N` (unacknowledged batches held, default 8), `--follow` (a growing source: only full
/// pages become batches; a short page means "not enough new yet": ask the same cursor again
/// every `--poll-ms` milliseconds, default 1000), `--malformed-limit N` (default 10; 0 retries
/// forever): a page whose body is malformed N times in a row is the source's data, not the
/// network — the record gate's schema check refuses it and the extractor reports `halted`,
/// so the chain stops instead of retrying the same broken page forever (no batch exists for it,
/// so nothing is quarantined; the log and the halt reason carry the parser's error).
public struct ExtractorWorker {
    let source: String
    let databasePath: String
    let pageSize: Int
    let windowSize: Int
    let follows: Bool
    let pollInterval: Duration
    let malformedLimit: Int

    /// The cursor recorded with the last batch of an exhausted source, so that a restarted
    /// extractor knows the stream is complete rather than starting it over.
    public static let exhaustedCursor = "<end-of-stream>"

    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "extractor")
        source = try options.required("--source")
        databasePath = try options.required("--db")
        pageSize = try options.integer("--page-size", default: 1000, range: 1...10_000)
        windowSize = try options.integer("--window", default: 8, range: 1...1024)
        follows = options.flag("--follow")
        pollInterval = .milliseconds(try options.integer("--poll-ms", default: 1000, range: 10...3_600_000))
        malformedLimit = try options.integer("--malformed-limit", default: 10, range: 0...1_000_000)
        try options.finish()
        guard source.hasPrefix("http://") || source.hasPrefix("https://") else {
            throw WorkerUsageError(description: "worker extractor: --source expects an http:// or https:// URL, got '\(source)'")
        }
    }

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        let logger = Logger(label: "cidp.extractor")
        var nextBatchID: UInt64
        var cursor: String?
        do {
            let checkpoint = try Warehouse(path: databasePath, busyTimeout: .milliseconds(200)).checkpoint()
            nextBatchID = (checkpoint?.batchID ?? 0) + 1
            cursor = checkpoint?.cursor
        } catch {
            workerFail("extractor: cannot read the checkpoint in \(databasePath): \(error)", code: 2)
        }
        var output: DataChannel
        var fetcher: TelemetryFetcher
        do {
            output = try DataChannel(fd: WireLayout.outputFD, name: "extractor→transformer")
            // A request must end within the watchdog period: nothing heartbeats during one.
            let client = try HTTPClient(configuration: .init(connectTimeout: .seconds(1), timeout: .seconds(2)))
            fetcher = TelemetryFetcher(baseURL: source, pageSize: pageSize,
                                       schedule: RetrySchedule(initial: .milliseconds(100), maximum: .seconds(2)),
                                       client: client, shouldStop: {
                                           // Called every 50 ms while waiting to retry.
                                           context.heartbeatIfDue()
                                           return Termination.isRequested
                                       })
            fetcher.malformedLimit = malformedLimit > 0 ? malformedLimit : nil
        } catch {
            workerFail("extractor: \(error)", code: 2)
        }
        var unacked = UnackedBatches(capacity: windowSize)
        var end: EndOfStream?
        if cursor == Self.exhaustedCursor {
            // Everything was committed before this restart: only the end remains to be said.
            end = EndOfStream(lastBatchID: nextBatchID - 1, records: 0)
            try? output.send(.endOfStream, end!.encoded())
        }
        var records: Int64 = 0
        var retries: Int64 = 0
        var isDegraded = false
        var progress = ProgressReporter(stage: "extract", counter: "records")
        var nextFetch = WorkerContext.monotonicNow()
        context.ready()
        logger.info("Extractor ready", metadata: ["source": "\(source)", "resumes.at": "\(cursor ?? "start")"])

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
                    let page = try fetcher.fetch(cursor: cursor) { attempt, error, delay in
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
                    if Termination.isRequested { exit(0) }
                    if isDegraded {
                        isDegraded = false
                        context.reportHealth(degraded: nil)
                    }
                    // A batch must be the same whenever it is fetched, or a restarted extractor
                    // would re-number different records with an id downstream already has (and
                    // skips as a duplicate). A finite source's pages are fixed; a growing source's
                    // head page is not, so with --follow only full pages are sent and a short one
                    // is asked for again later, from the same cursor.
                    let isHeadOfGrowingSource = follows && page.nextCursor != nil && page.records.count < pageSize
                    if isHeadOfGrowingSource {
                        nextFetch = WorkerContext.monotonicNow() + pollInterval
                    } else {
                        if !page.records.isEmpty {
                            let batch = RecordBatch(batchID: nextBatchID, cursor: page.nextCursor ?? Self.exhaustedCursor,
                                                    records: page.records)
                            let payload = batch.encoded()
                            try output.send(.recordBatch, payload)
                            unacked.append(batchID: nextBatchID, kind: .recordBatch, payload: payload)
                            nextBatchID += 1
                            records += Int64(page.records.count)
                        }
                        cursor = page.nextCursor ?? cursor
                    }
                    if page.nextCursor == nil {
                        let last = EndOfStream(lastBatchID: nextBatchID - 1, records: UInt64(records))
                        end = last
                        try output.send(.endOfStream, last.encoded())
                        logger.notice("Source exhausted", metadata: ["last.batch": "\(last.lastBatchID)"])
                    }
                }
            } catch let error as ExtractError {
                guard case .malformedBody = error.code else { workerFail("extractor: \(error)") }
                let message = "gate 'record' refused the page at cursor \(cursor ?? "start"): "
                    + "\(malformedLimit) malformed bodies in a row: \(error)"
                logger.error("Integrity gate refused a page", metadata: [
                    "event": "gate_violation", "gate": "record", "cursor": "\(cursor ?? "start")",
                    "reason": "\(message)", "watermark.batch": "\(nextBatchID - 1)",
                ])
                Halt.stop(message, batch: nil, watermark: nextBatchID - 1, logger: logger, context: context)
            } catch {
                workerFail("extractor: \(error)")
            }
            progress.report(["records": records, "batches_unacked": Int64(unacked.entries.count), "retries": retries],
                            context: context)
            if end != nil || unacked.isFull || WorkerContext.monotonicNow() < nextFetch {
                DataChannel.wait(for: [output.fd], timeout: .milliseconds(50))
            }
        }
    }
}
