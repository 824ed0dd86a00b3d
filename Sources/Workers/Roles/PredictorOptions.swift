import Posix

/// The `predictor` role's command line, parsed and checked in `cidp` (before the tree starts) and
/// again in `cidp-predictor`, which serves (see `Sources/Predictor`).
///
/// Options: `--db PATH` (required; read only); `--listen HOST:PORT` (an IPv4 address; default
/// `127.0.0.1:9465`; port 0 for any free port, logged), `--allow-non-loopback` (the one way to
/// listen outside 127.0.0.0/8), `--model-poll-ms N` (how often the serving model's version is
/// read; default 1000), `--max-body-bytes N` (default 1 MiB), `--max-readings N` (per request;
/// default 10000). The policy's `listen` and `allow_non_loopback` keys become `--listen` and
/// `--allow-non-loopback`.
public struct PredictorOptions: Sendable, Equatable {
    /// `127.0.0.1:9465`: DESIGN.md's port for the prediction API.
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort: UInt16 = 9465

    public var databasePath: String
    public var host: String
    public var port: UInt16
    /// Whether `--listen` was given. Without it the default address is best effort: taken (another
    /// tree on this machine), the predictor warns once and waits for it rather than failing the tree.
    public var isAddressExplicit: Bool
    public var modelPollInterval: Duration
    public var maximumBodyBytes: Int
    public var maximumReadings: Int

    /// - Throws: `WorkerUsageError` naming the option and what it expects.
    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = WorkerOptions(arguments, role: "predictor")
        databasePath = try options.required("--db")
        let listen = try options.value("--listen")
        let allowsNonLoopback = options.flag("--allow-non-loopback")
        modelPollInterval = .milliseconds(try options.integer("--model-poll-ms", default: 1000, range: 10...3_600_000))
        maximumBodyBytes = try options.integer("--max-body-bytes", default: 1 << 20, range: 1024...(256 << 20))
        maximumReadings = try options.integer("--max-readings", default: 10_000, range: 1...1_000_000)
        try options.finish()
        isAddressExplicit = listen != nil
        guard let listen else {
            host = Self.defaultHost
            port = Self.defaultPort
            return
        }
        guard let address = try? IPv4Endpoint(parsing: listen) else {
            throw WorkerUsageError(description: "worker predictor: --listen expects HOST:PORT with an IPv4 address and a "
                + "port from 0 to 65535 (\"127.0.0.1:9465\"), got '\(listen)'")
        }
        guard address.isLoopback || allowsNonLoopback else {
            throw WorkerUsageError(description: "worker predictor: --listen '\(listen)' is not a loopback address "
                + "(127.0.0.0/8); the predictor serves beyond this machine only with --allow-non-loopback "
                + "(allow_non_loopback = true in the policy)")
        }
        host = address.host
        port = address.port
    }
}
