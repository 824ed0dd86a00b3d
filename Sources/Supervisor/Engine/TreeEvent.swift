/// Identifies a node or worker of a running tree: its index in preorder (the root is 0).
public typealias ElementID = Int

/// What happens to a tree: fed to `SupervisorTree.handle(_:now:)` by the driver.
public enum TreeEvent: Sendable, Equatable {
    /// Start the whole tree, in order.
    case boot
    /// The driver spawned the worker asked for by `.spawn`.
    case spawned(ElementID, pid: Int32)
    /// The driver could not spawn it (`posix_spawn` failed).
    case spawnFailed(ElementID, reason: String)
    /// The worker's readiness message arrived on its control channel.
    case ready(ElementID, pid: Int32, build: String? = nil)
    case heartbeat(ElementID, pid: Int32)
    /// The worker reports it is alive but in trouble (nil: healthy again).
    case health(ElementID, pid: Int32, degraded: String?)
    /// The worker's integrity gate stopped its chain: its node is halted (the worker alone when
    /// its node is the root).
    case halted(ElementID, pid: Int32, reason: String)
    /// The worker starts on `item`; empty when it is done and idle.
    case working(ElementID, pid: Int32, item: String)
    /// `waitpid` reaped a process. `lastError`: the last error line it printed, if any (the
    /// driver reads it from the process's output), so that a give-up names the cause.
    case exited(pid: Int32, status: ExitStatus, lastError: String? = nil)
    /// The worker says the job's work is done (its last stage finished): the tree stops in
    /// order and finishes with `ExitCode.success`.
    case jobDone(ElementID, pid: Int32)
    /// Time passed: deadlines are checked.
    case tick
    /// An operator's request (`cidp restart|resume|stop|start`), identified by `ticket`: the
    /// tree answers it with `TreeAction.answer` — at once when refused, else once it is done.
    case request(OperatorRequest, ticket: Int)
    /// Orderly shutdown of the whole tree asked from outside (SIGTERM, SIGINT, `cidp stop`). A
    /// job stopped this way before it was done finishes with `ExitCode.interrupted`.
    case shutdown(reason: String)
}

/// What the driver must do, in order, after an event.
public enum TreeAction: Sendable, Equatable {
    /// Spawn this worker now and report `.spawned` or `.spawnFailed`.
    case spawn(ElementID)
    /// Send `signal` to the worker's process group.
    case signal(pid: Int32, signal: Int32)
    /// Something worth a log line.
    case notice(TreeNotice)
    /// The root has stopped every child: exit the process with this code.
    case finished(exitCode: Int32, message: String)
    /// The answer to the operator's request `ticket`.
    case answer(ticket: Int, OperatorAnswer)
}

/// Log-worthy transitions, each naming the child (OTP's supervisor reports).
public enum TreeNotice: Sendable, Equatable {
    case spawned(worker: String, pid: Int32, attempt: Int)
    case ready(worker: String, pid: Int32, after: Duration)
    case exited(worker: String, pid: Int32, status: ExitStatus, expected: Bool)
    case startFailed(worker: String, reason: String)
    /// `item`: what the worker was working on when it went down, if it had said.
    case restartScheduled(child: String, delay: Duration, restarts: Int, item: String?)
    case stopping(worker: String, pid: Int32, signal: Int32)
    case shutdownTimeout(worker: String, pid: Int32)
    case watchdogExpired(worker: String, pid: Int32, silentFor: Duration)
    case readinessTimeout(worker: String, pid: Int32)
    case healthChanged(worker: String, pid: Int32, degraded: String?)
    case notRestarted(child: String, why: String)
    case gaveUp(node: String, reason: String)
    /// The node's intensity is exceeded but its policy keeps it retrying (`keep_retrying`).
    case intensityExceeded(node: String, reason: String)
    /// `worker` said the job is done: the tree stops in order.
    case jobDone(worker: String)
    /// `node` (or `worker` alone, when `node` is the root) is halted by `worker`'s integrity gate.
    case halted(node: String, worker: String, reason: String)
    /// An operator resumed a halted node or worker: it starts again.
    case resumed(node: String)
    /// An operator stopped `child` (with `tied`, its siblings by strategy) and holds it stopped.
    case heldStopped(child: String, tied: [String])
    /// An operator started again what was held stopped.
    case releasedStopped(children: [String])
    /// An upgrade's new binary did not become ready: the previous one is started again.
    case upgradeRolledBack(worker: String, reason: String)
    /// A reload was applied: its plan (`ReloadPlan.text`).
    case reloaded(plan: String)
    /// `worker` crashed `crashes` times in a row on `item`: its next start gets it as a poison pill.
    case poisonPill(worker: String, item: String, crashes: Int)
    case treeReady(after: Duration)
    case strayProcessReaped(pid: Int32, status: ExitStatus)
}
