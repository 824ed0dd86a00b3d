/// The roles `cidp worker ROLE` can run.
public enum WorkerRole: String, CaseIterable, Sendable {
    /// A worker that can be told to crash, hang, exit, allocate without bound or ignore SIGTERM.
    case test
    /// The pipeline roles of DESIGN.md.
    case sensorSim = "sensor-sim"
    case extractor, transformer, loader, trainer
    /// The prediction API over the serving model (`cidp-predictor`, see `Sources/Predictor`).
    case predictor

    /// Runs the role in this process; does not return.
    public func run(arguments: [String], context: WorkerContext) throws(WorkerUsageError) -> Never {
        // Before any SQLite call: a worker is one process, still on one thread here.
        Database.turnOffMemoryStatistics()
        switch self {
        case .test:
            try TestWorker(arguments: arguments).run(context: context)
        case .sensorSim:
            preconditionFailure("sensor-sim runs as its own executable; see WorkerRole.execSensorSimulator")
        case .predictor:
            preconditionFailure("predictor runs as its own executable; see WorkerRole.execCompanion")
        case .extractor:
            try ExtractorWorker(arguments: arguments).run(context: context)
        case .transformer:
            try TransformerWorker(arguments: arguments).run(context: context)
        case .loader:
            try LoaderWorker(arguments: arguments).run(context: context)
        case .trainer:
            try TrainerWorker(arguments: arguments).run(context: context)
        }
    }

    /// Checks `arguments` as `run` would, without running anything: a policy's bad `args` (an
    /// unknown option, a gate threshold out of range) are a usage error before the tree starts,
    /// not a worker that fails at start until the restart intensity gives up.
    /// (`sensor-sim` options are checked by its own executable.)
    /// - Parameter environment: variables the worker will get on top of this process's own (its
    ///   `env` in the policy): an option may name one (the extractor's `--auth-token-env`).
    public func validate(arguments: [String], environment: [String: String] = [:]) throws(WorkerUsageError) {
        switch self {
        case .test: _ = try TestWorker(arguments: arguments)
        case .sensorSim: break
        case .extractor: _ = try ExtractorWorker(arguments: arguments, environment: environment)
        case .transformer: _ = try TransformerWorker(arguments: arguments)
        case .loader: _ = try LoaderWorker(arguments: arguments)
        case .trainer: _ = try TrainerWorker(arguments: arguments)
        case .predictor: _ = try PredictorOptions(arguments: arguments)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension WorkerRole {
    /// The simulator's executable, beside `cidp`.
    public static let sensorSimulatorExecutable = "cidp-sensor-sim"
    /// The predictor's executable, beside `cidp`.
    public static let predictorExecutable = "cidp-predictor"

    /// The executable of a role that runs in its own (an HTTP server: FlyingFox is not linked into
    /// `cidp`, see Package.swift), or nil for the roles `cidp` runs itself.
    public var companionExecutable: String? {
        switch self {
        case .sensorSim: Self.sensorSimulatorExecutable
        case .predictor: Self.predictorExecutable
        case .test, .extractor, .transformer, .loader, .trainer: nil
        }
    }

    /// Replaces this process with `cidp-sensor-sim ARGUMENTS` from the directory of `executable`:
    /// the same pid, descriptors and environment, so the supervisor sees no difference.
    /// Returns only on failure, with a one-line reason. C: `execv`.
    public static func execSensorSimulator(besides executable: String, arguments: [String]) -> String {
        execCompanion(sensorSimulatorExecutable, besides: executable, arguments: arguments)
    }

    /// Replaces this process with `NAME ARGUMENTS` from the directory of `executable`, as
    /// `execSensorSimulator` does. Returns only on failure, with a one-line reason. C: `execv`.
    public static func execCompanion(_ name: String, besides executable: String, arguments: [String]) -> String {
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = (directory.isEmpty ? "." : directory) + "/" + name
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        return "cannot run \(path): \(String(cString: strerror(errno)))"
    }
}
