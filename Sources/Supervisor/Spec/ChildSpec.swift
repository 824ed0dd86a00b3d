import Wire
/// When a child that exited is started again (OTP's restart types).
public enum RestartType: String, Sendable, Equatable, CaseIterable, Codable {
    /// Always restarted.
    case permanent
    /// Restarted only after an abnormal exit (non-zero code, or a signal we did not send).
    case transient
    /// Never restarted.
    case temporary
}

/// How a child is stopped (OTP's shutdown).
public enum Shutdown: Sendable, Equatable, Codable {
    /// SIGKILL at once.
    case brutalKill
    /// SIGTERM, then SIGKILL once `grace` has passed.
    case grace(Duration)
}

/// How a node reacts when one of its children exits and is to be restarted (OTP's strategies).
public enum Strategy: String, Sendable, Equatable, CaseIterable, Codable {
    case oneForOne = "one_for_one"
    case oneForAll = "one_for_all"
    case restForOne = "rest_for_one"
}

/// Delay before a restart: the first restart is immediate, then `initial × multiplier^(n-2)`
/// capped at `maximum`, with ±`jitter` (a fraction) of random spread. The count resets once
/// a child has stayed up for `stablePeriod`.
public struct Backoff: Sendable, Equatable, Codable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    public var jitter: Double
    public var stablePeriod: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5),
                multiplier: Double = 2, jitter: Double = 0.2, stablePeriod: Duration = .seconds(10)) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self.stablePeriod = stablePeriod
    }

    /// The delay before restart number `consecutive` (1 = the first restart since the child was
    /// last stable). `unitRandom` is a number in 0..<1 supplied by the caller, so the arithmetic
    /// stays deterministic under test.
    public func delay(forRestart consecutive: Int, unitRandom: Double) -> Duration {
        guard consecutive > 1 else { return .zero }
        let base = initial.seconds * pow(multiplier, Double(consecutive - 2))
        let capped = min(base, maximum.seconds)
        let spread = capped * jitter * (2 * unitRandom - 1)
        return .seconds(max(0, min(capped + spread, maximum.seconds)))
    }
}

/// What a node does when more than `intensity` restarts fall within its `period` (policy key
/// `intensity_exceeded`).
public enum IntensityExceeded: String, Sendable, Equatable, CaseIterable, Codable {
    /// OTP's rule: stop every child and fail towards the parent (at the root: exit 1).
    case giveUp = "give_up"
    /// Keep restarting the children at their backoff, the node shown `degraded` with the reason,
    /// for a long-running tree (`cidp up --follow`) that must not stop over one branch. A job
    /// always gives up: it must end, with a truthful exit code, within a bounded time.
    case keepRetrying = "keep_retrying"
}

/// One worker process: what to run and how to supervise it.
public struct ChildSpec: Sendable, Equatable, Codable {
    /// Unique in the whole tree; what `cidp restart NAME` and the logs use.
    public var name: String
    /// What the worker does, as the policy names it (`extractor`, `loader`, `test`, …). Opaque to
    /// the engine: the program embedding the runtime turns role, executable and arguments into an
    /// argv (`SupervisorRuntime`'s `commandLine`; `cidp` runs `[executable, "worker", role] + arguments`).
    public var role: String
    /// The absolute path of the program the worker runs; `cidp upgrade` replaces it.
    public var executable: String
    /// The role's arguments, in order.
    public var arguments: [String]
    public var restart: RestartType
    public var shutdown: Shutdown
    /// How long the child may take to send `ready`; past it the start has failed.
    public var readinessTimeout: Duration
    /// The longest silence allowed between heartbeats once ready; nil disables the watchdog.
    public var watchdog: Duration?
    /// Address-space limit in bytes (RLIMIT_AS); nil for none.
    public var memoryLimit: UInt64?
    /// Added to the child's environment.
    public var environment: [String: String]
    public var backoff: Backoff
    /// The worker whose output channel is this worker's input (`WireLayout.inputFD`), if any.
    public var input: String?
    /// After this many consecutive abnormal exits while working on the same item, the worker is
    /// restarted with that item as a poison pill (`WireLayout.poisonItemVariable`); 0 turns it off.
    public var poisonPillCrashes: Int

    public init(name: String, role: String, executable: String, arguments: [String] = [], restart: RestartType = .permanent,
                shutdown: Shutdown = .grace(.seconds(5)), readinessTimeout: Duration = .seconds(5),
                watchdog: Duration? = nil, memoryLimit: UInt64? = nil,
                environment: [String: String] = [:], backoff: Backoff = Backoff(), input: String? = nil,
                poisonPillCrashes: Int = 3) {
        self.name = name
        self.role = role
        self.executable = executable
        self.arguments = arguments
        self.restart = restart
        self.shutdown = shutdown
        self.readinessTimeout = readinessTimeout
        self.watchdog = watchdog
        self.memoryLimit = memoryLimit
        self.environment = environment
        self.backoff = backoff
        self.input = input
        self.poisonPillCrashes = poisonPillCrashes
    }
}

/// A supervisor node: lives inside the root process and supervises its children.
public struct NodeSpec: Sendable, Equatable, Codable {
    public var name: String
    public var strategy: Strategy
    /// More than `intensity` restarts within `period` and the node gives up.
    public var intensity: Int
    public var period: Duration
    /// What the node does when its intensity is exceeded.
    public var onIntensityExceeded: IntensityExceeded
    public var children: [TreeSpec]

    public init(name: String, strategy: Strategy = .oneForOne, intensity: Int = 3,
                period: Duration = .seconds(5), onIntensityExceeded: IntensityExceeded = .giveUp,
                children: [TreeSpec]) {
        self.name = name
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.onIntensityExceeded = onIntensityExceeded
        self.children = children
    }

    /// Every worker under this node, nested nodes included, in start order (preorder).
    public var workers: [ChildSpec] {
        children.flatMap { child -> [ChildSpec] in
            switch child {
            case .worker(let spec): return [spec]
            case .node(let node): return node.workers
            }
        }
    }
}

/// A child of a node: a worker process or a nested node.
public indirect enum TreeSpec: Sendable, Equatable, Codable {
    case worker(ChildSpec)
    case node(NodeSpec)

    public var name: String {
        switch self {
        case .worker(let spec): return spec.name
        case .node(let spec): return spec.name
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
