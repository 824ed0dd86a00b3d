import Posix
#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Wire

/// A worker's side of the supervision contract: it dies with its supervisor, applies its memory
/// limit, says `ready` once set up, and heartbeats from its work loop (so a hung loop is seen).
public final class WorkerContext: @unchecked Sendable {
    /// Exit code of a worker that finds it was orphaned before it could start.
    public static let orphanedExitCode: Int32 = 70

    public let name: String
    /// How often the supervisor expects a heartbeat.
    public let heartbeatInterval: Duration
    /// Whether this start resumes a chain an operator had halted (`cidp resume`): the worker may
    /// want to re-check what its gate stopped on. From `CIDP_RESUMED=1`.
    public let isResumed: Bool
    /// The item this worker crashed on too many times in a row, and the supervisor's one-line
    /// evidence, when the supervisor says so (`CIDP_POISON_ITEM`, `CIDP_POISON_EVIDENCE`): the
    /// worker should set the item aside (quarantine it) instead of processing it again.
    public let poisonPill: PoisonPill?
    private var writer: FrameWriter
    /// Whether fd 3 is open: false when run by hand, outside a supervisor.
    private let isAttached: Bool
    private var lock = pthread_mutex_t()
    private var lastHeartbeat: Duration = .zero

    /// Sets the worker up first thing in `cidp worker ROLE`:
    /// 1. asks for SIGKILL when the spawning supervisor thread dies (`PR_SET_PDEATHSIG`), then
    ///    checks the parent is still the supervisor that spawned it (it may have died before);
    /// 2. applies the memory limit from the environment (`RLIMIT_AS`);
    /// 3. starts a thread that exits the process when the control channel reaches end of file.
    /// Without a supervisor (no control channel), the context runs detached: messages go nowhere.
    public init() {
        let environment = Posix.environment()
        name = environment[WireLayout.workerNameVariable] ?? "worker"
        heartbeatInterval = .milliseconds(Int64(environment[WireLayout.heartbeatIntervalVariable] ?? "") ?? 1000)
        isResumed = environment[WireLayout.resumedVariable] == "1"
        if let item = environment[WireLayout.poisonItemVariable], !item.isEmpty {
            poisonPill = PoisonPill(item: item, evidence: environment[WireLayout.poisonEvidenceVariable] ?? "")
        } else {
            poisonPill = nil
        }
        if let supervisor = environment[WireLayout.supervisorPIDVariable].flatMap(Int32.init) {
            try? Posix.setParentDeathSignal(SIGKILL)
            if getppid() != supervisor { exit(Self.orphanedExitCode) }
        }
        if let limit = environment[WireLayout.memoryLimitVariable].flatMap(UInt64.init) {
            try? Posix.limitAddressSpace(of: 0, bytes: limit)
        }
        writer = FrameWriter(fd: WireLayout.controlFD, channel: "\(name) control")
        isAttached = Posix.isOpen(WireLayout.controlFD)
        pthread_mutex_init(&lock, nil)
        if isAttached { Self.watchForSupervisorExit() }
    }

    /// Tells the supervisor the worker is set up: until then it is `starting`.
    /// Says the worker is ready, with the build it runs (`BuildInfo`).
    public func ready() { send(.ready(build: BuildInfo.short)) }

    /// Sends a heartbeat now.
    public func heartbeat() { send(.heartbeat) }

    /// Sends a heartbeat if the interval has passed since the last one; cheap enough
    /// to call from every iteration of a work loop.
    public func heartbeatIfDue() {
        let now = Posix.monotonicNow()
        guard now - lastHeartbeat >= heartbeatInterval else { return }
        lastHeartbeat = now
        send(.heartbeat)
    }

    /// Reports trouble while alive (`degraded`), or recovery (nil).
    public func reportHealth(degraded reason: String?) {
        send(.health(reason.map { .degraded(reason: $0) } ?? .healthy))
    }

    /// Tells the supervisor the job's work is done (its last stage finished): the tree stops in
    /// order and `cidp up` exits 0.
    public func reportJobDone() { send(.jobDone) }

    public func reportProgress(stage: String, counters: [String: Int64]) {
        send(.progress(ControlMessage.Progress(stage: stage, counters: counters)))
    }

    /// Tells the supervisor the worker's integrity gate stopped its chain: the supervisor stops
    /// the chain's workers and holds them down until an operator runs `cidp resume`. The worker
    /// keeps running (heartbeating) until it is told to stop. `reason` is one line for the operator.
    public func reportHalted(_ reason: String) { send(.halted(reason: reason)) }

    /// Tells the supervisor which item the worker starts processing (`"batch 17"`, a `WorkItem`'s
    /// text for the pipeline's roles), or nil once it
    /// is done and idle. A worker that keeps crashing on the same item is restarted with it in
    /// `poisonPill`.
    public func reportWorking(on item: String?) { send(.working(item: item ?? "")) }

    private func send(_ message: ControlMessage) {
        guard isAttached else { return }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        // A closed channel means the supervisor is gone; the watcher thread ends the process.
        _ = try? writer.send(message)
    }

    /// Exits when the supervisor's end of the control channel closes (it died, even by SIGKILL).
    private static func watchForSupervisorExit() {
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { _ in
            var byte: UInt8 = 0
            while true {
                let count = read(WireLayout.controlFD.rawValue, &byte, 1)
                if count == 0 || (count < 0 && errno != EINTR) { _exit(0) }
            }
        }, nil)
        if result == 0 { pthread_detach(thread) }
    }
}
