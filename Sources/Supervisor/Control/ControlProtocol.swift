import Foundation

/// The control socket's protocol: the client sends one request line, the server answers one
/// JSON object line. `stop` keeps the connection open until the supervisor has exited, so the
/// client can wait for the end of the shutdown by reading to end of file.
public enum ControlRequest: Equatable, Sendable {
    case status
    case restart(String)
    /// Resume a halted node (or a worker halted on its own); nil: everything halted.
    case resume(String?)
    /// The orderly shutdown of the whole tree.
    case stop
    /// Stop one child and hold it stopped (`cidp stop NAME`).
    case stopChild(String)
    /// Start again a child held stopped (`cidp start NAME`).
    case start(String)
    /// Re-read the policy file and apply the difference (`cidp reload`); with `dryRun`, only say
    /// what it would do.
    case reload(dryRun: Bool)
    /// Replace one worker's process by one of a new binary (`cidp upgrade`): the executable's
    /// path (the rest of the line, spaces allowed), or the path it runs from when absent.
    case upgrade(String, executable: String?)
    /// Re-execute the root itself in place (`cidp upgrade --root`): the executable's path (the
    /// rest of the line), or the path the root runs from when absent.
    case upgradeRoot(executable: String?)

    /// Parses one request line; nil for anything else.
    public init?(line: String) {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        switch (words.first, words.count) {
        case ("status", 1): self = .status
        case ("stop", 1): self = .stop
        case ("stop", 2): self = .stopChild(String(words[1]))
        case ("start", 2): self = .start(String(words[1]))
        case ("restart", 2): self = .restart(String(words[1]))
        case ("resume", 1): self = .resume(nil)
        case ("resume", 2): self = .resume(String(words[1]))
        case ("reload", 1): self = .reload(dryRun: false)
        case ("reload", 2) where words[1] == "--dry-run": self = .reload(dryRun: true)
        case ("upgrade", 2) where words[1] == "--root": self = .upgradeRoot(executable: nil)
        case ("upgrade", let count) where count > 2 && words[1] == "--root":
            let rest = line.drop { $0 == " " }.dropFirst("upgrade".count).drop { $0 == " " }
                .dropFirst("--root".count).drop { $0 == " " }
            self = .upgradeRoot(executable: String(rest))
        case ("upgrade", 2): self = .upgrade(String(words[1]), executable: nil)
        case ("upgrade", let count) where count > 2:
            // The path is everything after the name: it may hold spaces.
            let rest = line.drop { $0 == " " }.dropFirst("upgrade".count).drop { $0 == " " }
                .dropFirst(words[1].count).drop { $0 == " " }
            self = .upgrade(String(words[1]), executable: String(rest))
        default: return nil
        }
    }

    public var line: String {
        switch self {
        case .status: return "status"
        case .stop: return "stop"
        case .restart(let name): return "restart \(name)"
        case .resume(nil): return "resume"
        case .resume(let name?): return "resume \(name)"
        case .stopChild(let name): return "stop \(name)"
        case .start(let name): return "start \(name)"
        case .reload(let dryRun): return dryRun ? "reload --dry-run" : "reload"
        case .upgrade(let name, nil): return "upgrade \(name)"
        case .upgrade(let name, let executable?): return "upgrade \(name) \(executable)"
        case .upgradeRoot(nil): return "upgrade --root"
        case .upgradeRoot(let executable?): return "upgrade --root \(executable)"
        }
    }
}

/// The JSON form of the tree in `cidp status --json`: every node `{"name", "kind": "node",
/// "state", "strategy", "restarts", "children": [...]}`, every worker `{"name", "kind": "worker",
/// "pid", "state", "restarts", "uptime_ms", "restart", "reason"}`. A halted node or worker has
/// state `"halted"`, the gate's one-line `"reason"` and the worker that halted it, `"halted_by"`.
/// What the root measures of a worker is optional and added after those (older readers ignore
/// it): `"rss_bytes"`, `"cpu_seconds"` (from /proc), `"records_in"`, `"records_out"`,
/// `"records_per_s"` (the worker's progress, counted from the warehouse checkpoint, so they go on
/// across restarts), `"stage"`, `"counters"` (every progress counter), `"last_exit"` (how the
/// previous incarnation ended and its last error line) and `"last_error"` (the live incarnation's
/// last error line).
public struct StatusTree: Codable, Equatable, Sendable {
    public var name: String
    public var kind: String
    public var state: String
    public var pid: Int32?
    public var restarts: Int
    public var uptimeMs: Int64?
    public var reason: String?
    public var haltedBy: String?
    public var strategy: String?
    public var restart: String?
    /// For a worker: the build it runs (`BuildInfo.short`), as it said in `ready`.
    public var build: String?
    public var children: [StatusTree]?
    public var rssBytes: Int64?
    public var cpuSeconds: Double?
    public var recordsIn: Int64?
    public var recordsOut: Int64?
    public var recordsPerSecond: Int64?
    public var stage: String?
    public var counters: [String: Int64]?
    public var lastExit: String?
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case name, kind, state, pid, restarts, reason, strategy, restart, build, children, stage, counters
        case uptimeMs = "uptime_ms"
        case haltedBy = "halted_by"
        case rssBytes = "rss_bytes"
        case cpuSeconds = "cpu_seconds"
        case recordsIn = "records_in"
        case recordsOut = "records_out"
        case recordsPerSecond = "records_per_s"
        case lastExit = "last_exit"
        case lastError = "last_error"
    }

    /// A tree given field by field (a test's, or a reader's own).
    public init(name: String, kind: String, state: String, pid: Int32? = nil, restarts: Int = 0, uptimeMs: Int64? = nil,
                reason: String? = nil, haltedBy: String? = nil, strategy: String? = nil, restart: String? = nil,
                children: [StatusTree]? = nil) {
        self.name = name
        self.kind = kind
        self.state = state
        self.pid = pid
        self.restarts = restarts
        self.uptimeMs = uptimeMs
        self.reason = reason
        self.haltedBy = haltedBy
        self.strategy = strategy
        self.restart = restart
        self.children = children
    }

    public init(_ entry: StatusEntry) {
        name = entry.name
        kind = entry.kind.rawValue
        state = entry.state
        pid = entry.pid
        restarts = entry.restarts
        uptimeMs = entry.uptime.map { $0.milliseconds }
        reason = entry.reason
        haltedBy = entry.haltedBy
        switch entry.kind {
        case .node:
            strategy = entry.detail
            children = entry.children.map(StatusTree.init)
        case .worker:
            restart = entry.detail
            build = entry.build
            lastExit = entry.lastExit
        }
    }

    /// Every worker of the tree changed by `body`, depth first.
    public mutating func updateWorkers(_ body: (inout StatusTree) -> Void) {
        if kind == "worker" { body(&self); return }
        guard var list = children else { return }
        for index in list.indices { list[index].updateWorkers(body) }
        children = list
    }

    /// Every worker of the tree, depth first, in start order.
    public var workers: [StatusTree] {
        kind == "worker" ? [self] : (children ?? []).flatMap(\.workers)
    }

    /// The element named `name`, anywhere in the tree.
    public func find(_ name: String) -> StatusTree? {
        if self.name == name { return self }
        for child in children ?? [] { if let found = child.find(name) { return found } }
        return nil
    }
}

/// One reply line of the control socket.
public struct ControlReply: Codable, Equatable, Sendable {
    public var ok: Bool
    public var message: String?
    public var error: String?
    /// With an error: the exit code the client reports (2 refused, nothing changed; 1 begun and
    /// not done — `OperatorAnswer`); absent means 2.
    public var code: Int32?
    public var tree: StatusTree?
    /// Set when the request was refused only because the socket is busy (`control.max_connections`
    /// clients connected): when to try again, in milliseconds.
    public var retryAfterMs: Int?

    enum CodingKeys: String, CodingKey {
        case ok, message, error, code, tree
        case retryAfterMs = "retry_after_ms"
    }

    public init(ok: Bool, message: String? = nil, error: String? = nil, code: Int32? = nil, tree: StatusTree? = nil,
                retryAfterMs: Int? = nil) {
        self.ok = ok
        self.message = message
        self.error = error
        self.code = code
        self.tree = tree
        self.retryAfterMs = retryAfterMs
    }

    public func encodedLine() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array((try? encoder.encode(self)) ?? Data(#"{"ok":false,"error":"cannot encode reply"}"#.utf8))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
