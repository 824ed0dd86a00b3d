import Logging
import Pipeline
import Posix
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The extractor's loop: asks the source for the page at its position when its window has room,
/// cuts the page into the next batch, and keeps what it sent in `SentBatches` until the loader's
/// acknowledgement comes back, sending it again when asked.
struct ExtractorDriver {
    let context: WorkerContext
    let logger: Logger
    let pageSize: Int
    let follows: Bool
    let pollInterval: Duration
    let malformedLimit: Int
    var output: DataChannel
    var fetcher: TelemetryFetcher
    var window: SentBatches
    /// Where the next page is asked for; `resumesAt` where this start began.
    var position: SourcePosition
    let resumesAt: SourcePosition
    var nextBatchID: UInt64
    /// Records the warehouse holds from this source: what the contract check names.
    let recordsInWarehouse: Int64
    var records: Int64 = 0
    var retries: Int64 = 0
    var isDegraded = false
    var nextFetch = Posix.monotonicNow()
    var cursors: CursorHistory
    var progress = ProgressReporter(stage: "extract", counter: "records")

    /// Whether the loop has nothing to do until a frame comes or the poll interval passes.
    var isIdle: Bool { window.end != nil || window.isFull || Posix.monotonicNow() < nextFetch }

    /// One turn: the transformer's acknowledgements and requests, then the next page when due.
    mutating func turn() {
        do {
            try handleDownstream(failsOnOther: true)
            if window.end == nil, !window.isFull, Posix.monotonicNow() >= nextFetch { try fetchNext() }
        } catch let error as ExtractError {
            failed(error)
        } catch {
            workerFail("extractor: \(error)")
        }
        // Counted from the warehouse's committed batches (the checkpoint this start resumed
        // from), not from this start: after a restart the count goes on.
        let extracted = recordsInWarehouse + records
        progress.report(["records": extracted, "records_in": extracted, "records_out": extracted,
                         "batches_unacked": Int64(window.entries.count), "retries": retries],
                        context: context)
    }

    /// Acknowledgements free the window; a request sends it again (with the end of the stream, once
    /// sent). Another kind is a bug of the transformer, unless the chain is halting anyway.
    private mutating func handleDownstream(failsOnOther: Bool) throws(WireError) {
        for frame in try output.receive() {
            switch frame.kind {
            case .ack: window.acknowledge(upTo: try BatchAck(decoding: frame.payload).batchID)
            case .resend: for message in window.resend() { try output.send(message) }
            default:
                guard failsOnOther else { break }
                workerFail("extractor: unexpected \(frame.kind.name) frame \(frame.sequence) from the transformer")
            }
        }
    }

    /// Sends `fresh` as the next batch, ending at `after`, and keeps it until acknowledged.
    mutating func send(_ fresh: [TelemetryRecord], ending after: SourcePosition) throws(WireError) {
        let message = DataMessage(kind: .recordBatch,
                                  payload: RecordBatch(batchID: nextBatchID, position: after, records: fresh).encoded())
        try output.send(message)
        window.sent(nextBatchID, message)
        nextBatchID += 1
        records += Int64(fresh.count)
    }

    /// This run's stream ends at `position`: the end goes downstream, and follows every re-send.
    mutating func endStream() throws(WireError) {
        let last = EndOfStream(lastBatchID: nextBatchID - 1, records: UInt64(records))
        window.sent(last)
        try output.send(.end(last))
        logger.notice("Source read to its end for this run", metadata: [
            "last.batch": "\(last.lastBatchID)", "records": "\(records)", "next.run.resumes.at": "\(position)",
        ])
    }

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
    mutating func halt(_ message: String) -> Never {
        while !window.isEmpty {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            do {
                try handleDownstream(failsOnOther: false)
            } catch {
                break  // the channel failed: halt now; the next run resumes from the checkpoint
            }
            if !window.isEmpty { DataChannel.wait(for: [output.fd], timeout: .milliseconds(50)) }
        }
        Halt.stop(message, batch: nil, watermark: nextBatchID - 1, logger: logger, context: context)
    }

    /// Halts the chain: the source's pages cannot be read to their end (a cursor that does not
    /// advance, a body past the limit); what came before is loaded.
    mutating func sourceBroken(_ what: String, event: String) -> Never {
        let message = "sensor API: \(what); the pages before it are loaded"
        logger.error("Source cannot be read on", metadata: [
            "event": "\(event)", "cursor": "\(position)", "reason": "\(message)", "watermark.batch": "\(nextBatchID - 1)",
        ])
        halt(message)
    }

    /// A page that could not be fetched: the gate refuses a source sending malformed bodies, a
    /// source given up halts the chain (what came before loaded), a stop request exits.
    private mutating func failed(_ error: ExtractError) -> Never {
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
    }
}
