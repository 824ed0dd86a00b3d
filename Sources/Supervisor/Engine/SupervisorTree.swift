import PortableRandom

/// The supervision tree as a pure state machine: `handle(_:now:)` takes an event and the
/// current monotonic time and returns the actions to perform. No I/O, no clock reads; the
/// driver (`SupervisorRuntime`) spawns, signals, reaps and feeds events back.
///
/// Each node works through a *plan*: a queue of steps (`stop` a child, `start` a child)
/// executed one at a time, as an OTP supervisor terminates and starts its children
/// synchronously. A step on a nested node hands that node a plan of its own and waits for it.
public struct SupervisorTree: Sendable, Codable {
    /// Why a worker is being stopped: its node's plan, the watchdog, a readiness timeout, or a
    /// halt of that worker alone (a worker directly under the root).
    enum StopCause: Sendable, Equatable, Codable { case plan, watchdog, readinessTimeout, halt }

    enum WorkerPhase: Sendable, Equatable, Codable {
        case idle
        /// `.spawn` was emitted; the pid arrives with `.spawned`. `stopWhenSpawned` records a
        /// stop step that ran before the pid was known.
        case spawning(stopWhenSpawned: Bool)
        case starting(pid: Int32, deadline: Duration)
        case running(pid: Int32, degraded: String?)
        case stopping(pid: Int32, killAt: Duration?, cause: StopCause)
        case restarting
        case stopped
        case failed
        /// Held down by a halt until an operator resumes it: no strategy starts it again.
        case halted
    }

    /// Who halted a node (or a worker alone) and why.
    struct Halt: Sendable, Equatable, Codable {
        var by: String
        var reason: String
    }

    /// Consecutive abnormal exits of a worker while it was working on the same item.
    struct CrashCount: Sendable, Equatable, Codable {
        var item: String
        var crashes: Int
        /// How those exits ended, each description once, in order of first occurrence.
        var causes: [String]
    }

    struct Worker: Sendable, Codable {
        /// Replaced by a reload (`SupervisorTree+Reload`); the live process keeps what it was started with.
        var spec: ChildSpec
        let parent: ElementID
        var phase: WorkerPhase = .idle
        var starts = 0
        var consecutiveRestarts = 0
        var spawnedAt: Duration = .zero
        var readyAt: Duration?
        var lastHeartbeat: Duration = .zero
        var lastExit: ExitStatus?
        /// The last error line the worker printed before its last exit (from the driver).
        var lastError: String?
        /// Set when this worker alone was halted (its node is the root); nodes keep their own.
        var halt: Halt?
        /// Resume once the halt's stop has brought the worker down (`cidp resume` came early).
        var resumesWhenDown = false
        /// The next spawn resumes a halted chain (`WireLayout.resumedVariable`).
        var isResumedStart = false
        /// What the live incarnation last said it was working on; nil when idle or not told.
        var item: String?
        var crashCount: CrashCount?
        /// Set while an operator holds the worker stopped (`OperatorRequest.stop`): the child the
        /// operator named (this one, or a sibling its strategy tied it to).
        var heldBy: ElementID?
        /// The build the live incarnation said it runs in `ready`.
        var build: String?
        /// Set from an upgrade's stop until its new binary is ready: what to roll back to.
        var upgrade: Upgrade?

        var pid: Int32? {
            switch phase {
            case .starting(let pid, _), .running(let pid, _), .stopping(let pid, _, _): return pid
            default: return nil
            }
        }
    }

    /// An upgrade under way (`OperatorRequest.upgrade`).
    struct Upgrade: Sendable, Equatable, Codable {
        var ticket: Int
        /// The executable the worker ran before, put back by a rollback.
        var previousExecutable: String
    }

    enum Step: Sendable, Equatable, Codable {
        case start(ElementID, notBefore: Duration)
        case stop(ElementID)

        var subject: ElementID {
            switch self { case .start(let id, _), .stop(let id): return id }
        }
    }

    enum NodeMode: Sendable, Equatable, Codable {
        case idle, starting, running, stopping, stopped
        case givingUp(String)
        case failed(String)
        /// A child's integrity gate stopped the node: its children are stopped and held down
        /// until an operator resumes it.
        case halted(Halt)
    }

    /// What a worker becomes once a stop step has brought it down.
    enum Disposition: Sendable, Equatable, Codable { case restarting, stopped, failed, halted }

    struct Node: Sendable, Codable {
        /// Replaced by a reload that changes the node's settings.
        var spec: NodeSpec
        let parent: ElementID?
        var children: [ElementID] = []
        var intensity: RestartIntensity
        var mode: NodeMode = .idle
        var plan: [Step] = []
        var current: Step?
        /// Whether `current` has been carried out (a start may wait for its `notBefore`).
        var currentBegun = false
        var disposition: Disposition = .restarting
        var starts = 0
        var startedAt: Duration?
        /// Resume once the halt's stop plan is done (`cidp resume` came while it was under way).
        var resumesWhenHalted = false
        /// Time this node, or a node below it, spent waiting out a restart backoff: not counted
        /// towards its restart intensity's period (see `intensityClock(of:)`).
        var backoffWaited: Duration = .zero
        /// Whether, after the last event, this node or a node below it waits out a backoff.
        var isWaitingOutBackoff = false
        /// Set when the intensity was exceeded and the policy keeps the node retrying
        /// (`IntensityExceeded.keepRetrying`): why, for `cidp status`.
        var trouble: String?
        /// Set while an operator holds the node stopped: the child the operator named.
        var heldBy: ElementID?

        var halt: Halt? {
            if case .halted(let halt) = mode { return halt }
            return nil
        }
    }

    enum Element: Sendable, Codable {
        case worker(Worker)
        case node(Node)
    }

    var elements: [Element] = []
    var isShuttingDown = false
    /// Elements a reload removed: out of their node's children, found by no name; a removed
    /// worker still going down is reaped like any other.
    var retired: Set<ElementID> = []
    /// Upgrades rolled back, by request ticket: why the new binary did not start.
    var rolledBack: [Int: String] = [:]
    var exitCode: Int32 = 0
    var exitMessage = ""
    var isFinished = false
    var bootedAt: Duration?
    var rng: SplitMix64
    var now: Duration = .zero
    var actions: [TreeAction] = []
    var pendingNodes: [ElementID] = []
    /// Operator requests accepted and not answered yet.
    var pendingRequests: [PendingRequest] = []
    /// Whether a halt ends the run: the root stops the whole tree and finishes with exit code 1
    /// (a run without `--follow`: no operator is there to resume the chain).
    let haltEndsRun: Bool
    /// Whether the tree runs a job: work that ends when a worker says so (`.jobDone`), rather
    /// than a service that runs until stopped. A job stopped from outside before it is done
    /// finishes with `ExitCode.interrupted`, and its nodes always give up when their intensity is
    /// exceeded (a job must end, within a bounded time, with a truthful exit code).
    let isJob: Bool

    /// What a re-executed root takes over (`RootHandover`): the whole state between two events.
    /// `actions` and `pendingNodes` are empty between events and are not carried.
    enum CodingKeys: String, CodingKey {
        case elements, isShuttingDown, retired, rolledBack, exitCode, exitMessage, isFinished, bootedAt, rng, now
        case pendingRequests, haltEndsRun, isJob
    }

    /// Builds the tree from a validated root spec. `seed` drives backoff jitter.
    /// - Parameters:
    ///   - haltEndsRun: true when an integrity gate's halt must end the run (exit code 1,
    ///     `"<node> halted by <worker>: <reason>"`); false to hold the chain down until an
    ///     operator resumes it while the rest of the tree runs on.
    ///   - isJob: true for a job (`cidp up` without `--follow`, with a stage that ends it).
    public init(root: NodeSpec, seed: UInt64 = 0x5EED, haltEndsRun: Bool = false, isJob: Bool = false) {
        rng = SplitMix64(state: seed)
        self.haltEndsRun = haltEndsRun
        self.isJob = isJob
        _ = add(.node(root), parent: nil)
    }

    mutating func add(_ spec: TreeSpec, parent: ElementID?) -> ElementID {
        let id = elements.count
        switch spec {
        case .worker(let child):
            elements.append(.worker(Worker(spec: child, parent: parent!)))
        case .node(let node):
            elements.append(.node(Node(spec: node, parent: parent,
                                       intensity: RestartIntensity(intensity: node.intensity, period: node.period))))
            var children: [ElementID] = []
            for child in node.children { children.append(add(child, parent: id)) }
            modifyNode(id) { $0.children = children }
        }
        return id
    }

    // MARK: Queries

    public static let rootID: ElementID = 0

    /// Every element's name, in preorder.
    public var names: [String] { elements.indices.filter { !retired.contains($0) }.map { name(of: $0) } }

    public func name(of id: ElementID) -> String {
        switch elements[id] {
        case .worker(let worker): return worker.spec.name
        case .node(let node): return node.spec.name
        }
    }

    public func elementID(named name: String) -> ElementID? {
        elements.indices.first { !retired.contains($0) && self.name(of: $0) == name }
    }

    /// The spec of a worker; traps for a node (a driver bug).
    public func workerSpec(_ id: ElementID) -> ChildSpec { worker(id).spec }

    public func isWorker(_ id: ElementID) -> Bool {
        if case .worker = elements[id] { return true }
        return false
    }

    /// The live pid of a worker, if it has one.
    public func pid(of id: ElementID) -> Int32? {
        guard case .worker(let worker) = elements[id] else { return nil }
        return worker.pid
    }

    /// The worker that owns `pid`, if any.
    public func worker(withPID pid: Int32) -> ElementID? {
        elements.indices.first { id in
            if case .worker(let worker) = elements[id], worker.pid == pid { return true }
            return false
        }
    }

    /// Whether the root has finished stopping and the process should exit.
    public var hasFinished: Bool { isFinished }

    /// The earliest time at which `.tick` has something to do.
    public func nextDeadline() -> Duration? {
        var earliest: Duration?
        func consider(_ time: Duration) { earliest = min(earliest ?? time, time) }
        for element in elements {
            switch element {
            case .worker(let worker):
                switch worker.phase {
                case .starting(_, let deadline): consider(deadline)
                case .running:
                    if let watchdog = worker.spec.watchdog { consider(worker.lastHeartbeat + watchdog) }
                case .stopping(_, let killAt?, _): consider(killAt)
                default: break
                }
            case .node(let node):
                if let current = node.current, !node.currentBegun, case .start(_, let notBefore) = current {
                    consider(notBefore)
                }
            }
        }
        return earliest
    }

    // MARK: Element access

    func worker(_ id: ElementID) -> Worker {
        guard case .worker(let worker) = elements[id] else { preconditionFailure("element \(id) is not a worker") }
        return worker
    }

    func node(_ id: ElementID) -> Node {
        guard case .node(let node) = elements[id] else { preconditionFailure("element \(id) is not a node") }
        return node
    }

    mutating func modifyWorker(_ id: ElementID, _ body: (inout Worker) -> Void) {
        guard case .worker(var worker) = elements[id] else { preconditionFailure("element \(id) is not a worker") }
        body(&worker)
        elements[id] = .worker(worker)
    }

    mutating func modifyNode(_ id: ElementID, _ body: (inout Node) -> Void) {
        guard case .node(var node) = elements[id] else { preconditionFailure("element \(id) is not a node") }
        body(&node)
        elements[id] = .node(node)
    }

    func parent(of id: ElementID) -> ElementID? {
        switch elements[id] {
        case .worker(let worker): return worker.parent
        case .node(let node): return node.parent
        }
    }
}
