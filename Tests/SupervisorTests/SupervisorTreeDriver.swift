#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

/// Plays the OS for a `SupervisorTree`: hands out fake pids for `.spawn`, records every spawn
/// and signal as a line of `trace`, and lets a test deliver ready, heartbeats and exits and move a
/// manual clock. No processes, no sleeps.
///
/// Each process is named `name#n`, its n-th incarnation, so traces say exactly which instance was
/// signalled or spawned: `["SIGTERM c#1", "spawn b#2"]`.
struct TreeDriver {
    var tree: SupervisorTree
    private(set) var now: Duration = .zero
    /// Spawns, signals and the end, in the order the tree asked for them.
    private(set) var trace: [String] = []
    private(set) var notices: [TreeNotice] = []
    private(set) var finished: (exitCode: Int32, message: String)?
    /// When true, `.spawn` is answered with `.spawned` at once; otherwise it waits in `pendingSpawns`.
    var answersSpawns = true
    private(set) var pendingSpawns: [ElementID] = []
    /// What each spawn was to be told (`SupervisorTree.spawnContext`), by instance (`name#n`).
    private(set) var contexts: [String: SpawnContext] = [:]
    private var pendingContexts: [SpawnContext] = []

    private var nextPID: Int32 = 100
    private var incarnations: [String: Int] = [:]
    private(set) var labels: [Int32: String] = [:]
    /// The last signal sent to each live pid, so `die` can report a matching status.
    private var lastSignal: [Int32: Int32] = [:]

    init(_ root: NodeSpec, seed: UInt64 = 1, haltEndsRun: Bool = false, isJob: Bool = false) {
        tree = SupervisorTree(root: root, seed: seed, haltEndsRun: haltEndsRun, isJob: isJob)
    }

    // MARK: Driving

    /// Feeds one event at the current time and carries out what the tree asks for.
    mutating func send(_ event: TreeEvent) {
        perform(tree.handle(event, now: now))
    }

    mutating func boot() { send(.boot) }

    mutating func shutdown(_ reason: String = "test") { send(.shutdown(reason: reason)) }

    /// Moves the clock to `time` and ticks.
    mutating func advance(to time: Duration) {
        precondition(time >= now, "time goes forward")
        now = time
        send(.tick)
    }

    mutating func advance(by delta: Duration) { advance(to: now + delta) }

    /// Moves the clock without ticking (an event other than a tick arrives later).
    mutating func setClock(_ time: Duration) {
        precondition(time >= now, "time goes forward")
        now = time
    }

    /// The running instance of `name` says it is ready.
    mutating func ready(_ name: String) {
        send(.ready(id(name), pid: pid(name)))
    }

    /// Sends `.ready` to every starting worker until none is starting: a whole boot.
    mutating func readyAll() {
        while let id = tree.names.indices.first(where: { isStarting($0) }) {
            send(.ready(id, pid: tree.pid(of: id)!))
        }
    }

    mutating func heartbeat(_ name: String) {
        send(.heartbeat(id(name), pid: pid(name)))
    }

    /// The live instance of `name` says its integrity gate halted the chain.
    mutating func halt(_ name: String, _ reason: String) {
        send(.halted(id(name), pid: pid(name), reason: reason))
    }

    /// The live instance of `name` starts on `item` ("" when it is idle again).
    mutating func working(_ name: String, _ item: String) {
        send(.working(id(name), pid: pid(name), item: item))
    }

    /// An operator resumes `name`.
    mutating func resume(_ name: String) { _ = request(.resume(id(name))) }

    /// The tree's answers to operator requests, by ticket.
    private(set) var answers: [Int: OperatorAnswer] = [:]
    private var lastTicket = 0

    /// Sends an operator request. - Returns: its ticket (see `answers`) and its answer if it came
    /// with the request itself (a refusal, or a request done at once).
    @discardableResult
    mutating func request(_ request: OperatorRequest) -> (ticket: Int, answer: OperatorAnswer?) {
        lastTicket += 1
        let ticket = lastTicket
        send(.request(request, ticket: ticket))
        return (ticket, answers[ticket])
    }

    /// What the live instance of `name` was told at its spawn.
    func context(_ name: String) -> SpawnContext? { instance(name).flatMap { contexts[$0] } }

    /// The live instance of `name` exits with `status`, having printed `lastError` last.
    mutating func exit(_ name: String, _ status: Supervisor.ExitStatus, lastError: String? = nil) {
        send(.exited(pid: pid(name), status: status, lastError: lastError))
    }

    /// The live instance of `name` says the job is done.
    mutating func jobDone(_ name: String) {
        send(.jobDone(id(name), pid: pid(name)))
    }

    /// The live instance of `name` crashes (SIGSEGV).
    mutating func crash(_ name: String) { exit(name, .signaled(signal: SIGSEGV, coreDumped: true)) }

    /// The live instance of `name` dies of the last signal the tree sent it.
    mutating func die(_ name: String) {
        let pid = pid(name)
        let signal = lastSignal[pid] ?? SIGKILL
        send(.exited(pid: pid, status: .signaled(signal: signal, coreDumped: false)))
    }

    /// Instance `label` (`b#1`) dies of the last signal the tree sent it: for a worker no name
    /// finds any more (removed by a reload) while it goes down.
    mutating func die(instance label: String) {
        guard let pid = labels.first(where: { $0.value == label })?.key else { preconditionFailure("no instance '\(label)'") }
        send(.exited(pid: pid, status: .signaled(signal: lastSignal[pid] ?? SIGKILL, coreDumped: false)))
    }

    /// Answers the oldest pending `.spawn` with a pid.
    mutating func completeSpawn() {
        guard !pendingSpawns.isEmpty else { Issue.record("no spawn is pending"); return }
        let id = pendingSpawns.removeFirst()
        send(.spawned(id, pid: newPID(for: id, context: pendingContexts.removeFirst())))
    }

    /// Answers the oldest pending `.spawn` with a failure.
    mutating func failSpawn(_ reason: String = "ENOENT") {
        guard !pendingSpawns.isEmpty else { Issue.record("no spawn is pending"); return }
        let id = pendingSpawns.removeFirst()
        pendingContexts.removeFirst()
        trace.append("spawnFailed \(tree.name(of: id))")
        send(.spawnFailed(id, reason: reason))
    }

    /// Returns the trace so far and clears it.
    mutating func takeTrace() -> [String] {
        defer { trace = [] }
        return trace
    }

    // MARK: Queries

    func id(_ name: String) -> ElementID {
        guard let id = tree.elementID(named: name) else { preconditionFailure("no element '\(name)'") }
        return id
    }

    func pid(_ name: String) -> Int32 {
        guard let pid = tree.pid(of: id(name)) else { preconditionFailure("'\(name)' has no live pid") }
        return pid
    }

    /// `name#n` of the live instance of `name`, or nil.
    func instance(_ name: String) -> String? { tree.pid(of: id(name)).flatMap { labels[$0] } }

    func state(_ name: String) -> String? { Self.find(name, in: tree.snapshot(now: now))?.state }

    func entry(_ name: String) -> StatusEntry? { Self.find(name, in: tree.snapshot(now: now)) }

    private func isStarting(_ id: ElementID) -> Bool {
        guard tree.isWorker(id), case .starting = tree.worker(id).phase else { return false }
        return true
    }

    static func find(_ name: String, in entry: StatusEntry) -> StatusEntry? {
        if entry.name == name { return entry }
        for child in entry.children { if let found = find(name, in: child) { return found } }
        return nil
    }

    // MARK: The fake OS

    private mutating func newPID(for id: ElementID, context: SpawnContext) -> Int32 {
        let name = tree.name(of: id)
        let n = (incarnations[name] ?? 0) + 1
        incarnations[name] = n
        nextPID += 1
        labels[nextPID] = "\(name)#\(n)"
        contexts["\(name)#\(n)"] = context
        trace.append("spawn \(name)#\(n)")
        return nextPID
    }

    private mutating func perform(_ actions: [TreeAction]) {
        for action in actions {
            switch action {
            case .spawn(let id):
                // Asked for now, as the runtime does, before `.spawned` clears the resumed flag.
                let context = tree.spawnContext(of: id)
                if answersSpawns {
                    send(.spawned(id, pid: newPID(for: id, context: context)))
                } else {
                    pendingSpawns.append(id)
                    pendingContexts.append(context)
                }
            case .signal(let pid, let signal):
                lastSignal[pid] = signal
                trace.append("\(Supervisor.ExitStatus.signalName(signal)) \(labels[pid] ?? "pid \(pid)")")
            case .notice(let notice):
                notices.append(notice)
            case .finished(let code, let message):
                precondition(finished == nil, "finished twice")
                finished = (code, message)
                trace.append("finished \(code)")
            case .answer(let ticket, let answer):
                answers[ticket] = answer
            }
        }
    }
}

// MARK: Spec shorthands

/// A worker spec with test-friendly defaults: 1 s grace, 5 s readiness, no jitter.
func worker(_ name: String, restart: RestartType = .permanent, shutdown: Shutdown = .grace(.seconds(1)),
            readiness: Duration = .seconds(5), watchdog: Duration? = nil,
            backoff: Backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5), multiplier: 2,
                                       jitter: 0, stablePeriod: .seconds(10)),
            poisonPillCrashes: Int = 3) -> TreeSpec {
    .worker(ChildSpec(name: name, role: name, executable: "/bin/true", restart: restart, shutdown: shutdown,
                      readinessTimeout: readiness, watchdog: watchdog, backoff: backoff,
                      poisonPillCrashes: poisonPillCrashes))
}

func node(_ name: String, _ strategy: Strategy, intensity: Int = 3,
          period: Duration = .seconds(5), _ children: [TreeSpec]) -> TreeSpec {
    .node(NodeSpec(name: name, strategy: strategy, intensity: intensity, period: period, children: children))
}

/// A one_for_one node.
func node(_ name: String, intensity: Int = 3, period: Duration = .seconds(5), _ children: [TreeSpec]) -> TreeSpec {
    node(name, .oneForOne, intensity: intensity, period: period, children)
}

func root(_ strategy: Strategy, intensity: Int = 3, period: Duration = .seconds(5),
          _ children: [TreeSpec]) -> NodeSpec {
    NodeSpec(name: "root", strategy: strategy, intensity: intensity, period: period, children: children)
}

/// A one_for_one root.
func root(intensity: Int = 3, period: Duration = .seconds(5), _ children: [TreeSpec]) -> NodeSpec {
    root(.oneForOne, intensity: intensity, period: period, children)
}

/// A booted tree with every worker ready, the trace cleared.
func bootedDriver(_ spec: NodeSpec) -> TreeDriver {
    var driver = TreeDriver(spec)
    driver.boot()
    driver.readyAll()
    _ = driver.takeTrace()
    return driver
}
