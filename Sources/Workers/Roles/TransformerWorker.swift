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
        let (transformer, committed, totals) = resume(context: context, logger: logger)
        var input: DataChannel
        var output: DataChannel
        do {
            input = try DataChannel(fd: WireLayout.inputFD, name: "extractor→transformer")
            output = try DataChannel(fd: WireLayout.outputFD, name: "transformer→loader")
            try input.send(BatchSequencer.startRequest)
        } catch {
            workerFail("transformer: \(error)", code: 2)
        }
        // Counted from the warehouse's committed batches, not from this start: after a restart the
        // counts go on (the batches re-sent since the checkpoint are counted again as they pass).
        var driver = TransformerDriver(
            context: context, logger: logger, gates: gates, transformer: transformer,
            relay: Relay(resumingAfter: committed, window: windowSize, poisonPill: context.poisonPill),
            input: input, output: output,
            counters: ["records_in": totals.extracted, "records_out": totals.loaded + totals.duplicates,
                       "dropped": totals.dropped, "quarantined": totals.quarantined])
        logger.info("Transformer ready", metadata: ["resumes.after.batch": "\(committed)"])
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            do { try driver.turn() } catch { workerFail("transformer: \(error)") }
            driver.progress.report(driver.counters, context: context)
            DataChannel.wait(for: [input.fd, output.fd], timeout: .milliseconds(50))
        }
    }

    /// The state this start resumes from: the checkpoint's window state and batch, and the
    /// warehouse's batch totals. A halt the warehouse still records (the operator has not resumed
    /// it) is said again, and the worker stays down.
    private func resume(context: WorkerContext, logger: Logger) -> (GatedTransformer, UInt64, IntegrityReport.Totals) {
        var trouble = WarehouseTrouble(context: context, logger: logger, role: "transformer", giveUpAfter: .seconds(600), haltsChain: false)
        let resumed: (GatedTransformer, UInt64, IntegrityReport.Totals)
        let standingHalt: String?
        do {
            let (checkpoint, halt, totals) = try trouble.waitingOut("checkpoint read", watermark: 0) {
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
            let state = try checkpoint.map { try TransformerState(decoding: $0.windowState) } ?? TransformerState()
            resumed = (GatedTransformer(rules: rules, gates: gates, state: state), checkpoint?.batchID ?? 0, totals)
            standingHalt = halt.map { Halt.message(gate: $0.gate, batchID: $0.batchID, reason: $0.reason) }
        } catch {
            workerFail("transformer: cannot resume from the checkpoint in \(databasePath): \(error)", code: 2)
        }
        if let standingHalt {
            // Halted before this start and not resumed: say so again and stay down.
            Halt.stop(standingHalt, batch: nil, watermark: resumed.1, logger: logger, context: context)
        }
        return resumed
    }
}
