/// The policy as read from the file, checked key by key but not yet assembled into a tree.
/// Nothing here is public: `PolicyLoader` hands out only a complete, validated `Policy`.

/// A value and the key path it was read from, so that errors about merged settings can name their origin.
struct Sourced<Value> {
    var value: Value
    var path: [String]
}

/// The `[backoff]` keys a table sets; nil where it leaves the value to the next level.
struct BackoffSettings {
    var initialMilliseconds: Sourced<Int>?
    var maximumMilliseconds: Sourced<Int>?
    var multiplier: Sourced<Double>?
    var jitter: Sourced<Double>?
    var stableMilliseconds: Sourced<Int>?

    /// Each key of `self`, or of `base` where `self` does not set it.
    func overriding(_ base: BackoffSettings) -> BackoffSettings {
        BackoffSettings(initialMilliseconds: initialMilliseconds ?? base.initialMilliseconds,
                        maximumMilliseconds: maximumMilliseconds ?? base.maximumMilliseconds,
                        multiplier: multiplier ?? base.multiplier,
                        jitter: jitter ?? base.jitter,
                        stableMilliseconds: stableMilliseconds ?? base.stableMilliseconds)
    }

    /// The backoff, `Backoff()`'s defaults standing in for the keys nobody set.
    var backoff: Backoff {
        var backoff = Backoff()
        if let initialMilliseconds { backoff.initial = .milliseconds(initialMilliseconds.value) }
        if let maximumMilliseconds { backoff.maximum = .milliseconds(maximumMilliseconds.value) }
        if let multiplier { backoff.multiplier = multiplier.value }
        if let jitter { backoff.jitter = jitter.value }
        if let stableMilliseconds { backoff.stablePeriod = .milliseconds(stableMilliseconds.value) }
        return backoff
    }
}

/// The supervision keys a worker or `[defaults]` sets; nil where it leaves the value to the next level.
struct WorkerSettings {
    var restart: RestartType?
    var shutdown: Shutdown?
    var readinessTimeoutMilliseconds: Int?
    /// 0 means no watchdog.
    var watchdogMilliseconds: Int?
    /// In bytes; 0 means no limit.
    var memoryLimitBytes: UInt64?
    /// 0 turns poison-pill detection off; sourced so that a value too high for the worker's node
    /// can be blamed on the table that set it.
    var poisonPillCrashes: Sourced<Int>?
    var backoff = BackoffSettings()

    /// Each key of `self`, or of `base` where `self` does not set it; the backoff merges key by key.
    func overriding(_ base: WorkerSettings) -> WorkerSettings {
        WorkerSettings(restart: restart ?? base.restart,
                       shutdown: shutdown ?? base.shutdown,
                       readinessTimeoutMilliseconds: readinessTimeoutMilliseconds ?? base.readinessTimeoutMilliseconds,
                       watchdogMilliseconds: watchdogMilliseconds ?? base.watchdogMilliseconds,
                       memoryLimitBytes: memoryLimitBytes ?? base.memoryLimitBytes,
                       poisonPillCrashes: poisonPillCrashes ?? base.poisonPillCrashes,
                       backoff: backoff.overriding(base.backoff))
    }
}

/// `[supervisor]` or a `[nodes.X]` table.
struct NodeDefinition {
    var name: String
    /// `["supervisor"]` or `["nodes", name]`.
    var path: [String]
    var strategy: Strategy
    var intensity: Int
    var periodMilliseconds: Int
    var onIntensityExceeded: IntensityExceeded
    var children: [String]

    var childrenPath: [String] { path + ["children"] }
}

/// A `[workers.X]` table.
struct WorkerDefinition {
    var name: String
    var path: [String]
    var role: String
    var arguments: [String]
    /// Where the arguments the role's keys rendered came from (`Policy.settingOrigins`).
    var origins: [SettingOrigin]
    var environment: [String: String]
    /// The worker whose output feeds this one's input (a data channel), if any.
    var input: String?
    var settings: WorkerSettings
}

/// The allowed keys of each kind of table, in the order the README documents them.
enum PolicySchema {
    static let topLevel = ["supervisor", "logging", "control", "metrics", "defaults", "nodes", "workers"]
    static let supervisor = ["name", "strategy", "intensity", "period_ms", "intensity_exceeded", "children"]
    static let node = ["strategy", "intensity", "period_ms", "intensity_exceeded", "children"]
    static let logging = ["dir", "max_bytes", "keep", "console_level", "file_level"]
    static let control = ["max_connections", "idle_timeout_ms"]
    static let metrics = ["listen", "allow_non_loopback", "actions"]
    /// `[control]`'s ranges: at least one client (`cidp stop` needs one), and a timeout a client on
    /// a loaded machine can meet but an idle one cannot stretch past an hour.
    static let maxConnectionsRange = 1...1024
    static let idleTimeoutRange = 100...3_600_000
    static let defaults = ["restart", "shutdown", "readiness_timeout_ms", "watchdog_ms", "memory_limit_mb",
                           "poison_pill_crashes", "backoff"]
    static let worker = ["role", "args", "env", "input", "listen", "allow_non_loopback"] + defaults
    static let backoff = ["initial_ms", "max_ms", "multiplier", "jitter", "stable_ms"]
    static let consoleLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    static let defaultRootName = "cidp"
    /// `poison_pill_crashes` when neither the worker nor `[defaults]` sets it (capped at the intensity of the worker's node).
    static let defaultPoisonPillCrashes = 3

    // Limits: the parser, the decoder and the engine walk the tree recursively, and each worker
    // is a process with descriptors in the root; a policy past these is refused with one line.
    /// The deepest a key may nest, counting dotted parts and the tables and arrays around it
    /// (the deepest valid keys, `workers.NAME.gates.batch.max_psi` and
    /// `workers.NAME.source.fields.timestamp`, have 5).
    static let maximumKeyDepth = 8
    /// The most levels of `[nodes.X]` below `[supervisor]` (the default policy has 1).
    static let maximumNodeDepth = 16
    /// The most nodes and workers one tree may hold, `[supervisor]` aside.
    static let maximumElements = 256

    /// `^[a-z0-9][a-z0-9_-]{0,31}$`
    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return isLowerAlphanumeric(bytes[0])
            && bytes.dropFirst().allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    static let nameRule = "expected 1 to 32 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"
}
