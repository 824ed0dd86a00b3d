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
    /// The file the policy was read from, as its errors name it.
    public var file: String
    /// Per worker: where in the file each argument its role's keys rendered came from.
    public var settingOrigins: [String: [SettingOrigin]]

    public init(root: NodeSpec, logging: LogSettings = LogSettings(), control: ControlSettings = ControlSettings(),
                metrics: MetricsSettings = MetricsSettings(), file: String = "", settingOrigins: [String: [SettingOrigin]] = [:]) {
        self.root = root
        self.logging = logging
        self.control = control
        self.metrics = metrics
        self.file = file
        self.settingOrigins = settingOrigins
    }

    /// Equal content: where it was read from (`file`, `settingOrigins`) is not the policy.
    public static func == (lhs: Policy, rhs: Policy) -> Bool {
        lhs.root == rhs.root && lhs.logging == rhs.logging && lhs.control == rhs.control && lhs.metrics == rhs.metrics
    }

    /// A role's complaint about its arguments, pointed back at the key that set the option it
    /// names: `worker extractor: --page-size expects …` becomes
    /// `x.toml:12: workers.extractor.page_size: --page-size expects …`. Nil when no key of the
    /// worker set an option the complaint names (it came from `cidp up`, or from `args`).
    public func locate(worker: String, problem: String) -> PolicyError? {
        var best: (score: Int, origin: SettingOrigin)?
        for origin in settingOrigins[worker] ?? [] {
            guard let option = origin.arguments.first else { continue }
            let value = origin.arguments.count > 1 ? origin.arguments[1] : ""
            // A repeatable option (`--gate batch.max_psi=0.25`) is told apart by its value's key.
            let valueKey = value.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            var score = 0
            if Self.mentions(problem, option) { score += 1 }
            if value.contains("="), Self.mentions(problem, valueKey) { score += 2 }
            if value.contains("="), problem.contains(value) { score += 4 }
            if score > 0, score > (best?.score ?? 0) { best = (score, origin) }
        }
        guard let origin = best?.origin else { return nil }
        var message = Substring(problem)
        if message.hasPrefix("worker "), let colon = message.firstIndex(of: ":") {
            message = message[message.index(after: colon)...].drop { $0 == " " }
        }
        return PolicyError(file: file, line: origin.line, keyPath: origin.keyPath, message: String(message))
    }

    /// Whether `text` holds `word` not as part of a longer option or key (`--auth` is not in
    /// `--auth-token-file`).
    private static func mentions(_ text: String, _ word: String) -> Bool {
        guard !word.isEmpty else { return false }
        func isWordByte(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        let bytes = Array(text.utf8), needle = Array(word.utf8)
        guard bytes.count >= needle.count else { return false }
        for start in 0...(bytes.count - needle.count) where bytes[start..<start + needle.count].elementsEqual(needle) {
            let end = start + needle.count
            let boundedBefore = start == 0 || !isWordByte(bytes[start - 1])
            let boundedAfter = end == bytes.count || !isWordByte(bytes[end])
            if boundedBefore && boundedAfter { return true }
        }
        return false
    }
}
