import Logging
import Pipeline
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The transformer's loop: a thin driver of its `Relay`. It reads what the machine accepts,
/// transforms the batches it admits, and sends what it returns.
struct TransformerDriver {
    let context: WorkerContext
    let logger: Logger
    let gates: GatePolicy
    var transformer: GatedTransformer
    var relay: Relay
    var input: DataChannel
    var output: DataChannel
    var counters: [String: Int64]
    var progress = ProgressReporter(stage: "transform", counter: "records_in")

    /// One turn: the loader's acknowledgements and requests, then the extractor's batches (unless
    /// the window is full or the chain halts), then the end of the stream once it is due.
    mutating func turn() throws(WireError) {
        for frame in try output.receive() {
            switch frame.kind {
            case .ack: try send(relay.acknowledged(try BatchAck(decoding: frame.payload).batchID))
            case .resend: try send(relay.resendRequested())
            default: workerFail("transformer: unexpected \(frame.kind.name) frame \(frame.sequence) from the loader")
            }
        }
        if let halt = relay.haltDue {
            // Nothing more is read: the chain stops at the quarantined batch. Once its
            // quarantine is committed, the supervisor is told, and stops the chain.
            progress.report(counters, context: context, force: true)
            Halt.stop(halt.message, batch: halt.batchID, watermark: relay.committed, logger: logger, context: context)
        } else if relay.acceptsInput {
            for frame in try input.receive() where !relay.isHalting {
                switch frame.kind {
                case .recordBatch: try admit(try RecordBatch(decoding: frame.payload))
                case .endOfStream: relay.streamEnded(try EndOfStream(decoding: frame.payload))
                default: workerFail("transformer: unexpected \(frame.kind.name) frame \(frame.sequence) from the extractor")
                }
            }
        }
        try send(relay.endToForward())
    }

    private mutating func admit(_ batch: RecordBatch) throws(WireError) {
        let (admission, sends) = relay.admit(batch.batchID)
        try send(sends)
        switch admission {
        case .apply, .quarantinePoisonPill:
            context.reportWorking(on: WorkItem.batch(batch.batchID).description)
            try transform(batch, admission)
            context.reportWorking(on: nil)
            counters["records_in", default: 0] += Int64(batch.records.count)
        case .acknowledgeAgain, .dropDuplicate, .requestResend, .dropAhead:
            break
        }
    }

    /// Transforms the admitted `batch` — or, for a poison pill, quarantines it with the crash
    /// evidence without processing it once more — and sends the result on.
    private mutating func transform(_ batch: RecordBatch, _ admission: BatchSequencer.Admission) throws(WireError) {
        let outcome: GateOutcome
        var evidence = ""
        if case .quarantinePoisonPill(let pill) = admission {
            evidence = pill
            outcome = .violated(GateViolation(
                gate: .poisonPill, action: gates.action(for: .poisonPill),
                reason: "the batch crashed the transformer repeatedly: \(pill)", dropped: 0))
        } else {
            CrashInjection.crashIfArmed(batchID: batch.batchID, role: "transformer")
            outcome = transformer.process(batch, now: Int64(time(nil)))
        }
        switch outcome {
        case .passed(let passed):
            let transformed = TransformedBatch(batch: passed.output, windowState: transformer.state.encoded(),
                                               dropped: passed.droppedCount, rejected: 0)
            let message = DataMessage(kind: .transformedBatch, payload: transformed.encoded())
            try send(relay.processed(batch.batchID, into: message))
            counters["records_out", default: 0] += Int64(passed.output.records.count)
            counters["dropped", default: 0] += Int64(passed.droppedCount)
        case .violated(let violation):
            // Quarantined whole, with the state as it was before the batch.
            let quarantined = QuarantinedBatch(
                batch: batch, windowState: transformer.state.encoded(), gate: violation.gate.rawValue,
                action: violation.action.rawValue, reason: violation.reason, evidence: evidence, dropped: violation.dropped)
            let halt = violation.action == .halt
                ? Halt.message(gate: violation.gate.rawValue, batchID: batch.batchID, reason: violation.reason) : nil
            try send(relay.processed(batch.batchID, into: DataMessage(kind: .quarantinedBatch, payload: quarantined.encoded()),
                                     haltMessage: halt))
            counters["quarantined", default: 0] += Int64(batch.records.count)
            logger.warning("Integrity gate refused a batch", metadata: [
                "event": "gate_violation", "gate": "\(violation.gate)", "action": "\(violation.action)",
                "batch": "\(batch.batchID)", "records": "\(batch.records.count)",
                "reason": "\(violation.reason)", "watermark.batch": "\(relay.committed)",
            ])
        }
    }

    private mutating func send(_ sends: Relay.Sends) throws(WireError) {
        for message in sends.upstream { try input.send(message) }
        for message in sends.downstream { try output.send(message) }
    }
}
