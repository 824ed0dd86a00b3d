/// Where and how the root writes its logs.
public struct LogSettings: Sendable, Equatable {
    /// Directory of the JSON-lines files (`cidp.log`, `cidp.log.1`, …), relative to the working directory.
    public var directory: String
    /// A file is rotated once writing a line would take it past this size.
    public var maxBytes: Int
    /// How many rotated files are kept besides the live one.
    public var keep: Int
    /// The lowest level printed on the console (swift-log level names: trace … critical).
    public var consoleLevel: String
    /// The lowest level written to the file; `info` keeps the per-batch `debug` notices out.
    public var fileLevel: String

    /// The defaults are sized in `policies/README.md` ("Sizing the log rotation").
    public init(directory: String = "logs", maxBytes: Int = LogSettings.defaultMaxBytes, keep: Int = LogSettings.defaultKeep,
                consoleLevel: String = "info", fileLevel: String = "info") {
        self.directory = directory
        self.maxBytes = maxBytes
        self.keep = keep
        self.consoleLevel = consoleLevel
        self.fileLevel = fileLevel
    }

    public static let defaultMaxBytes = 8_000_000
    public static let defaultKeep = 5
}

/// The control socket's limits, so that clients cannot starve the tree of descriptors.
public struct ControlSettings: Sendable, Equatable {
    /// Clients connected at once; one more is accepted only to be refused, with a reply saying so.
    public var maxConnections: Int
    /// How long a client may take, from connecting, to send its whole request line; then it is
    /// answered with an error and closed. A client waiting for its answer (a restart, `stop`) is not idle.
    public var idleTimeout: Duration

    public init(maxConnections: Int = 32, idleTimeout: Duration = .seconds(5)) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }
}

/// Where the root serves its Prometheus metrics (`[metrics]`, docs/METRICS.md).
public struct MetricsSettings: Sendable, Equatable {
    /// What the policy asked for.
    public enum Listen: Sendable, Equatable {
        /// No `listen` key: `defaultAddress`, best effort. When that port is taken (another tree
        /// on this machine), the run goes on without metrics and says so in one warning: a second
        /// tree must not fail over a port its operator never asked for.
        case implicitDefault
        /// `listen = ""`: no listener.
        case off
        /// `listen = "HOST:PORT"` set in the policy: bound or the start is refused (exit 2).
        /// Port 0 takes any free port (logged at start).
        case address(host: String, port: UInt16)
    }

    public var listen: Listen
    /// `allow_non_loopback = true`: the one way to serve on an address outside 127.0.0.0/8.
    public var allowsNonLoopback: Bool
    /// `actions = true`: the web view offers restart and resume buttons, each request carrying
    /// the per-run token the page reads from the listener (a request without it is refused).
    public var allowsActions: Bool

    /// `127.0.0.1:9464`, Prometheus' registered default port range's CIDP entry.
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort: UInt16 = 9464

    public init(listen: Listen = .implicitDefault, allowsNonLoopback: Bool = false, allowsActions: Bool = false) {
        self.listen = listen
        self.allowsNonLoopback = allowsNonLoopback
        self.allowsActions = allowsActions
    }
}

/// A validated policy file: the supervision tree and the root's settings.
public struct Policy: Sendable, Equatable {
    /// The root node; its name is the tree's name in `cidp status`.
    public var root: NodeSpec
    public var logging: LogSettings
    public var control: ControlSettings
    public var metrics: MetricsSettings

    public init(root: NodeSpec, logging: LogSettings = LogSettings(), control: ControlSettings = ControlSettings(),
                metrics: MetricsSettings = MetricsSettings()) {
        self.root = root
        self.logging = logging
        self.control = control
        self.metrics = metrics
    }
}
