import Logging
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `transformer` role: validates each batch, computes the rolling features, and sends the
/// result with its window state to the loader. It starts from the warehouse checkpoint (the
/// window state and batch id the loader last committed), so a restart resumes exactly; it keeps
/// its unacknowledged output for a restarted loader and forwards the loader's acknowledgements
/// upstream. Batches are processed strictly in order; a duplicate is skipped (and acknowledged
/// at once if already committed).
///
/// Options: `--db PATH` (required; read for the checkpoint), `--window N` (unacknowledged
/// batches held, default 8), `--range READING=MIN:MAX` (repeatable; the physical range of
/// `flow_rate`, `pressure`, `vibration` or `temperature`, replacing `ValidationRules`' default —
/// set in the policy's `args`), `--gate GATE.KEY=VALUE` (repeatable; `GatePolicy`).
///
/// A batch that fails an integrity gate (`GatedTransformer`) stops the transformer with exit 1
/// and the violation on stderr, whatever the gate's action: quarantining the batch and going on
/// are not wired yet.
public struct TransformerWorker {
    let databasePath: String
    let windowSize: Int
    let rules: ValidationRules
    let gates: GatePolicy

    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "transformer")
        databasePath = try options.required("--db")
        windowSize = try options.integer("--window", default: 8, range: 1...1024)
        var rules = ValidationRules()
        for text in try options.values("--range") {
            let usage = "worker transformer: --range expects READING=MIN:MAX with READING one of "
                + Reading.allCases.map(\.rawValue).joined(separator: ", ") + " and MIN <= MAX finite numbers, got '\(text)'"
            let parts = text.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let reading = Reading(rawValue: String(parts[0])) else {
                throw WorkerUsageError(description: usage)
            }
            let bounds = parts[1].split(separator: ":", maxSplits: 1).compactMap { Double($0) }
            guard bounds.count == 2, bounds.allSatisfy(\.isFinite), bounds[0] <= bounds[1] else {
                throw WorkerUsageError(description: usage)
            }
            switch reading {
            case .flowRate: rules.flowRate = bounds[0]...bounds[1]
            case .pressure: rules.pressure = bounds[0]...bounds[1]
            case .vibration: rules.vibration = bounds[0]...bounds[1]
            case .temperature: rules.temperature = bounds[0]...bounds[1]
            }
        }
        self.rules = rules
        do {
            gates = try GatePolicy.parse(try options.values("--gate"))
        } catch {
            throw WorkerUsageError(description: "worker transformer: \(error.description)")
        }
        try options.finish()
    }

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        let logger = Logger(label: "cidp.transformer")
        var transformer: GatedTransformer
        var committed: UInt64
        do {
            let checkpoint = try Warehouse(path: databasePath, busyTimeout: .milliseconds(200)).checkpoint()
            committed = checkpoint?.batchID ?? 0
            let state = try checkpoint.map { try TransformerState(decoding: $0.windowState) } ?? TransformerState()
            transformer = GatedTransformer(rules: rules, gates: gates, state: state)
        } catch {
            workerFail("transformer: cannot resume from the checkpoint in \(databasePath): \(error)", code: 2)
        }
        var processed = committed
        var input: DataChannel
        var output: DataChannel
        do {
            input = try DataChannel(fd: WireLayout.inputFD, name: "extractor→transformer")
            output = try DataChannel(fd: WireLayout.outputFD, name: "transformer→loader")
            try input.send(.resend)
        } catch {
            workerFail("transformer: \(error)", code: 2)
        }
        var unacked = UnackedBatches(capacity: windowSize)
        var end: EndOfStream?
        var endForwarded = false
        var askedForResend = false
        var counters: [String: Int64] = ["records_in": 0, "records_out": 0, "dropped": 0, "rejected": 0]
        var progress = ProgressReporter(stage: "transform", counter: "records_in")
        context.ready()
        logger.info("Transformer ready", metadata: ["resumes.after.batch": "\(committed)"])

        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            do {
                for frame in try output.receive() {
                    switch frame.kind {
                    case .ack:
                        let ack = try BatchAck(decoding: frame.payload)
                        committed = max(committed, ack.batchID)
                        unacked.acknowledge(upTo: ack.batchID)
                        try input.send(.ack, frame.payload)
                    case .resend:
                        try unacked.resend(on: &output)
                        if endForwarded, let end { try output.send(.endOfStream, end.encoded()) }
                    default:
                        workerFail("transformer: unexpected \(frame.kind) frame \(frame.sequence) from the loader")
                    }
                }
                if !unacked.isFull {
                    for frame in try input.receive() {
                        switch frame.kind {
                        case .recordBatch:
                            let batch = try RecordBatch(decoding: frame.payload)
                            if batch.batchID <= processed {
                                if batch.batchID <= committed { try input.send(.ack, BatchAck(batchID: batch.batchID).encoded()) }
                                continue
                            }
                            guard batch.batchID == processed + 1 else {
                                if !askedForResend { askedForResend = true; try input.send(.resend) }
                                continue
                            }
                            askedForResend = false
                            let outcome: TransformOutcome
                            switch transformer.process(batch, now: Int64(time(nil))) {
                            case .passed(let passed): outcome = passed
                            case .violated(let violation):
                                workerFail("transformer: batch \(batch.batchID): \(violation)", code: 1)
                            }
                            let dropped = outcome.droppedCount
                            let transformed = TransformedBatch(batch: outcome.output, windowState: transformer.state.encoded(),
                                                               dropped: dropped, rejected: outcome.rejected.count)
                            let payload = transformed.encoded()
                            try output.send(.transformedBatch, payload)
                            unacked.append(batchID: batch.batchID, kind: .transformedBatch, payload: payload)
                            processed = batch.batchID
                            counters["records_in", default: 0] += Int64(batch.records.count)
                            counters["records_out", default: 0] += Int64(outcome.output.records.count)
                            counters["dropped", default: 0] += Int64(dropped)
                            counters["rejected", default: 0] += Int64(outcome.rejected.count)
                        case .endOfStream:
                            end = try EndOfStream(decoding: frame.payload)
                        default:
                            workerFail("transformer: unexpected \(frame.kind) frame \(frame.sequence) from the extractor")
                        }
                    }
                }
                if let end, !endForwarded, processed >= end.lastBatchID {
                    endForwarded = true
                    try output.send(.endOfStream, end.encoded())
                }
            } catch {
                workerFail("transformer: \(error)")
            }
            progress.report(counters, context: context)
            DataChannel.wait(for: [input.fd, output.fd], timeout: .milliseconds(50))
        }
    }
}
