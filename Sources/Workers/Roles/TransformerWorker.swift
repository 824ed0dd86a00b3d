import Logging
import Pipeline
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
/// A batch that fails an integrity gate (`GatedTransformer`), or that crashed the transformer
/// `poison_pill_crashes` times in a row (the supervisor says so at start), goes to the loader as a
/// `QuarantinedBatch`: raw records, gate, reason, and the state as before it, so it never enters
/// the fact table. With the gate's action `halt`, nothing more is read: once the loader has
/// committed the quarantine, the transformer reports `halted` and the supervisor stops the
/// chain. The halt is kept in the warehouse, so a restarted transformer reports it again until
/// an operator resumes the chain (`cidp resume`, which starts it with `CIDP_RESUMED=1`).
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
        // Ready before the warehouse is read: a warehouse locked or failing at start is waited
        // out, degraded, rather than a start that fails and is restarted.
        context.ready()
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "transformer", giveUpAfter: .seconds(600), haltsChain: false)
        var transformer: GatedTransformer
        var committed: UInt64
        /// A halt the warehouse still records (the operator has not resumed it): the chain stays down.
        var standingHalt: String?
        /// The warehouse's batch totals: where this start's counters begin.
        var totals: IntegrityReport.Totals
        do {
            let (checkpoint, halt, committedTotals) = try trouble.waitingOut("checkpoint read", watermark: 0) {
                () throws(WarehouseError) in
                let warehouse = try Warehouse(path: databasePath, busyTimeout: .milliseconds(200))
                if let finding = try warehouse.fileCheck() {
                    Halt.stop(Halt.corruptWarehouse(databasePath, finding: finding), batch: nil, watermark: 0,
                              logger: logger, context: context)
                }
                let checkpoint = try warehouse.checkpoint()
                let totals = try warehouse.batchTotals()
                guard let halt = try warehouse.openHalts().first else { return (checkpoint, nil as QuarantineEntry?, totals) }
                if context.isResumed {
                    let resumed = try warehouse.resumeHalts()
                    logger.notice("Halt lifted by the operator", metadata: [
                        "event": "resumed", "batch": "\(halt.batchID)", "gate": "\(halt.gate)",
                        "halts": "\(resumed)", "watermark.batch": "\(checkpoint?.batchID ?? 0)",
                    ])
                    return (checkpoint, nil, totals)
                }
                return (checkpoint, halt, totals)
            }
            committed = checkpoint?.batchID ?? 0
            totals = committedTotals
            let state = try checkpoint.map { try TransformerState(decoding: $0.windowState) } ?? TransformerState()
            transformer = GatedTransformer(rules: rules, gates: gates, state: state)
            standingHalt = halt.map { Halt.message(gate: $0.gate, batchID: $0.batchID, reason: $0.reason) }
        } catch {
            workerFail("transformer: cannot resume from the checkpoint in \(databasePath): \(error)", code: 2)
        }
        if let standingHalt {
            // Halted before this start and not resumed: say so again and stay down.
            Halt.stop(standingHalt, batch: nil, watermark: committed, logger: logger, context: context)
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
        /// The batch whose quarantine halts the chain, and the message, once the loader has committed it.
        var halting: (batchID: UInt64, message: String)?
        // Counted from the warehouse's committed batches, not from this start: after a restart the
        // counts go on (the batches re-sent since the checkpoint are counted again as they pass).
        var counters: [String: Int64] = ["records_in": totals.extracted, "records_out": totals.loaded + totals.duplicates,
                                         "dropped": totals.dropped, "quarantined": totals.quarantined]
        var progress = ProgressReporter(stage: "transform", counter: "records_in")
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
                if let halt = halting {
                    // Nothing more is read: the chain stops at the quarantined batch. Once its
                    // quarantine is committed, the supervisor is told, and stops the chain.
                    if committed >= halt.batchID {
                        progress.report(counters, context: context, force: true)
                        Halt.stop(halt.message, batch: halt.batchID, watermark: committed, logger: logger, context: context)
                    }
                } else if !unacked.isFull {
                    for frame in try input.receive() where halting == nil {
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
                            let item = "batch \(batch.batchID)"
                            context.reportWorking(on: item)
                            let outcome: GateOutcome
                            var evidence = ""
                            if let pill = context.poisonPill, pill.item == item {
                                // This batch crashed the transformer again and again: it is not
                                // processed once more but quarantined with the crash evidence.
                                evidence = pill.evidence
                                outcome = .violated(GateViolation(
                                    gate: .poisonPill, action: gates.action(for: .poisonPill),
                                    reason: "the batch crashed the transformer repeatedly: \(pill.evidence)", dropped: 0))
                            } else {
                                CrashInjection.crashIfArmed(batchID: batch.batchID, role: "transformer")
                                outcome = transformer.process(batch, now: Int64(time(nil)))
                            }
                            switch outcome {
                            case .passed(let passed):
                                let dropped = passed.droppedCount
                                let transformed = TransformedBatch(batch: passed.output, windowState: transformer.state.encoded(),
                                                                   dropped: dropped, rejected: 0)
                                let payload = transformed.encoded()
                                try output.send(.transformedBatch, payload)
                                unacked.append(batchID: batch.batchID, kind: .transformedBatch, payload: payload)
                                counters["records_out", default: 0] += Int64(passed.output.records.count)
                                counters["dropped", default: 0] += Int64(dropped)
                            case .violated(let violation):
                                // Quarantined whole, with the state as it was before the batch.
                                let quarantined = QuarantinedBatch(
                                    batch: batch, windowState: transformer.state.encoded(), gate: violation.gate.rawValue,
                                    action: violation.action.rawValue, reason: violation.reason, evidence: evidence,
                                    dropped: violation.dropped)
                                let payload = quarantined.encoded()
                                try output.send(.quarantinedBatch, payload)
                                unacked.append(batchID: batch.batchID, kind: .quarantinedBatch, payload: payload)
                                counters["quarantined", default: 0] += Int64(batch.records.count)
                                logger.warning("Integrity gate refused a batch", metadata: [
                                    "event": "gate_violation", "gate": "\(violation.gate)", "action": "\(violation.action)",
                                    "batch": "\(batch.batchID)", "records": "\(batch.records.count)",
                                    "reason": "\(violation.reason)", "watermark.batch": "\(committed)",
                                ])
                                if violation.action == .halt {
                                    halting = (batch.batchID, Halt.message(
                                        gate: violation.gate.rawValue, batchID: batch.batchID, reason: violation.reason))
                                }
                            }
                            context.reportWorking(on: nil)
                            processed = batch.batchID
                            counters["records_in", default: 0] += Int64(batch.records.count)
                        case .endOfStream:
                            end = try EndOfStream(decoding: frame.payload)
                        default:
                            workerFail("transformer: unexpected \(frame.kind) frame \(frame.sequence) from the extractor")
                        }
                    }
                }
                if halting == nil, let end, !endForwarded, processed >= end.lastBatchID {
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
