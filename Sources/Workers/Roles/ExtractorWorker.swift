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
        let (nextBatchID, position, recordsInWarehouse) = resume(context: context, logger: logger)
        var driver: ExtractorDriver
        do {
            driver = ExtractorDriver(
                context: context, logger: logger, pageSize: pageSize, follows: follows, pollInterval: pollInterval,
                malformedLimit: malformedLimit, output: try DataChannel(fd: WireLayout.outputFD, name: "extractor→transformer"),
                fetcher: try makeFetcher(context: context), window: SentBatches(capacity: windowSize),
                position: position, resumesAt: position, nextBatchID: nextBatchID, recordsInWarehouse: recordsInWarehouse,
                cursors: CursorHistory(start: position.cursor))
        } catch {
            workerFail("extractor: \(error)", code: 2)
        }
        logger.info("Extractor ready", metadata: ["source": "\(source)", "resumes.at": "\(position)"])
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            driver.turn()
            if driver.isIdle { DataChannel.wait(for: [driver.output.fd], timeout: .milliseconds(50)) }
        }
    }

    /// Where this start resumes, from the warehouse's checkpoint: the next batch id, the source
    /// position after the last committed batch, and the records the warehouse holds from the source.
    private func resume(context: WorkerContext, logger: Logger) -> (UInt64, SourcePosition, Int64) {
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "extractor", giveUpAfter: giveUpAfter ?? .seconds(600), haltsChain: !follows)
        do {
            return try trouble.waitingOut("checkpoint read", watermark: 0) {
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
    }

    /// The source's client and pager, heartbeating and honouring a stop request while they wait.
    /// - Throws: `ExtractError` for a client libcurl cannot set up.
    private func makeFetcher(context: WorkerContext) throws -> TelemetryFetcher {
        let client = try HTTPClient(configuration: sourceOptions.client)
        // libcurl calls this at least about once a second during a request: a slow source
        // within its deadline is not a hung worker, and SIGTERM ends a request at once.
        client.onProgress = {
            context.heartbeatIfDue()
            return !Termination.isRequested
        }
        var fetcher = TelemetryFetcher(baseURL: source, pageSize: pageSize,
                                       schedule: RetrySchedule(initial: .milliseconds(100), maximum: .seconds(2)),
                                       client: client, shouldStop: {
                                           // Called every 50 ms while waiting to retry.
                                           context.heartbeatIfDue()
                                           return Termination.isRequested
                                       })
        fetcher.malformedLimit = malformedLimit > 0 ? malformedLimit : nil
        fetcher.giveUpAfter = giveUpAfter
        fetcher.format = sourceOptions.format
        return fetcher
    }

    /// Whether `error`, for the page at the warehouse's resume position, says the source does not
    /// have that position: a 4xx other than those asking to retry or to authenticate.
    static func refusesPosition(_ error: ExtractError) -> Bool {
        guard case .httpStatus(let status, _) = error.code else { return false }
        return (400..<500).contains(status) && ![401, 403, 407, 408, 429].contains(status)
    }
}
