/// The roles `cidp worker ROLE` can run.
public enum WorkerRole: String, CaseIterable, Sendable {
    /// A worker that can be told to crash, hang, exit, allocate without bound or ignore SIGTERM.
    case test
    /// The pipeline roles of DESIGN.md. The trainer (issue #4) only takes part in supervision
    /// (ready, heartbeats, orderly stop) until it lands; see `IdleWorker`.
    case sensorSim = "sensor-sim"
    case extractor, transformer, loader, trainer

    /// Runs the role in this process; does not return.
    public func run(arguments: [String], context: WorkerContext) throws(TestWorker.UsageError) -> Never {
        switch self {
        case .test:
            try TestWorker(arguments: arguments).run(context: context)
        case .sensorSim:
            let simulator: SensorSimWorker
            do { simulator = try SensorSimWorker(arguments: arguments) } catch {
                throw TestWorker.UsageError(description: error.description)
            }
            simulator.run(context: context)
        case .extractor:
            try ExtractorWorker(arguments: arguments).run(context: context)
        case .transformer:
            try TransformerWorker(arguments: arguments).run(context: context)
        case .loader:
            try LoaderWorker(arguments: arguments).run(context: context)
        case .trainer:
            guard arguments.isEmpty else {
                throw TestWorker.UsageError(description: "role \(rawValue) takes no options yet, got '\(arguments.joined(separator: " "))'")
            }
            IdleWorker().run(context: context)
        }
    }
}
