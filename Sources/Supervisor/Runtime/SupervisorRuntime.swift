#if canImport(Glibc)
import Glibc
#endif
import Posix
import Logging
import Wire

/// Drives a `SupervisorTree` with real processes: one long-lived thread (the caller's) runs an
/// epoll loop over a signalfd, the control socket, and every worker's control channel, stdout
/// and stderr. That same thread does every spawn, because Linux sends the parent-death signal
/// when the *thread* that spawned a child exits.
public final class SupervisorRuntime {
    /// What `run()` ended with.
    public struct Outcome: Sendable, Equatable {
        public var exitCode: Int32
        public var message: String
    }

    enum Source {
        case signals
        case listener
        case control(ElementID, pid: Int32)
        case output(ElementID, pid: Int32)
        case client
    }

    var policy: Policy
    /// Reads and validates the policy again, as at start (`cidp reload`, SIGHUP); nil when the
    /// tree was not started from a policy file (reload refused then).
    public var policySource: (() throws -> Policy)?
    /// A worker's argv from its spec: the embedding program's launch convention (the engine and
    /// the policy know a role and its arguments, not how a program is told which role to play).
    let commandLine: (ChildSpec) -> [String]
    let runDirectory: RunDirectory
    let logger: Logger
    /// Added to every worker's environment after the inherited one.
    let baseEnvironment: [String]

    var tree: SupervisorTree
    var epoll: Posix.Epoll?
    /// Set by `run`, before the loop starts.
    var signalFD: FileDescriptor?
    var listenFD: FileDescriptor?
    var devNullFD: FileDescriptor?
    var sources: [FileDescriptor: Source] = [:]
    var controlReaders: [FileDescriptor: FrameReader] = [:]
    var forwarders: [FileDescriptor: WorkerOutputForwarder] = [:]
    var clients: [FileDescriptor: ControlConnection] = [:]
    /// The last ticket given to an operator request.
    var nextTicket = 0
    /// The control socket's cap and idle timeout, and the descriptors set aside (`reserveDescriptors`).
    var admission: ControlAdmission
    var events: [TreeEvent] = []
    /// The workers' latest progress, for the console and the progress lines (`+Console`).
    var board: ProgressBoard
    /// The live view or lines (`SupervisorRuntime+Console.swift`).
    let console: ConsoleOptions
    /// When the console's next redraw or progress-line check is due.
    var consoleTickAt: Duration = .zero
    /// The run's start, for the view's clock.
    var consoleStartedAt: Duration = .zero
    var channels: DataChannels?
    var outcome: Outcome?
    /// The last lines each worker process printed (stdout and stderr), by pid: the evidence of a
    /// poison pill. A worker's entry is dropped when its next incarnation is spawned.
    var recentOutput: [Int32: [String]] = [:]
    /// The last error line each worker process printed (a plain stderr line, or a log entry at
    /// error level or above), by pid: what a give-up and `cidp status` name as the cause.
    var lastErrors: [Int32: String] = [:]
    /// The pid of each worker's latest incarnation, to find its `recentOutput`.
    var latestPID: [ElementID: Int32] = [:]
    /// Lines kept per process in `recentOutput`.
    static let recentOutputLines = 5
    /// READY, STATUS, WATCHDOG and STOPPING for systemd (`SupervisorRuntime+Systemd.swift`).
    let systemd: SystemdNotifier
    /// Progress, restart causes, give-ups by name (`SupervisorRuntime+Figures.swift`).
    var figures = RuntimeFigures()
    /// Receives a `TreeSnapshot` from the loop every `snapshotInterval` (the metrics listener
    /// keeps it under a lock); must not block.
    public var snapshotPublisher: (@Sendable (TreeSnapshot) -> Void)?
    /// What `cidp up` carries across a re-exec of the root (`cidp upgrade --root`): its own state
    /// and the descriptors it holds (locks, the metrics listener), kept open across `execve`.
    public var handoverHost: (() -> (state: [String: String], descriptors: [FileDescriptor]))?
    /// Set by `adopt`: the tree was handed over by the previous image of this root.
    var adopted: RootHandover?

    /// - Parameters:
    ///   - policy: the validated tree and settings.
    ///   - runDirectory: where the lock file and control socket live.
    ///   - environment: extra `KEY=VALUE` entries every worker gets (besides the inherited environment).
    ///   - seed: backoff jitter seed.
    ///   - haltEndsRun: when true (a run without `--follow`), a worker's halt stops the whole
    ///     tree and `run()` returns exit code 1 with `"<node> halted by <worker>: <reason>"`; when
    ///     false, the halted node is held down until `cidp resume` while the rest of the tree
    ///     runs on.
    ///   - isJob: when true, the run is a job that ends when a worker says it is done; a stop
    ///     from outside before that returns `ExitCode.interrupted` (see `SupervisorTree.isJob`).
    ///   - commandLine: a worker's argv from its spec; `argv[0]` must be its `executable`.
    public init(policy: Policy, runDirectory: RunDirectory, logger: Logger, commandLine: @escaping (ChildSpec) -> [String],
                environment: [String: String] = [:],
                seed: UInt64 = UInt64(truncatingIfNeeded: Posix.monotonicNow().components.attoseconds),
                haltEndsRun: Bool = false, isJob: Bool = false, console: ConsoleOptions = ConsoleOptions()) {
        self.policy = policy
        self.commandLine = commandLine
        self.console = console
        self.board = ProgressBoard(stages: console.stages)
        self.runDirectory = runDirectory
        self.logger = logger
        self.tree = SupervisorTree(root: policy.root, seed: seed, haltEndsRun: haltEndsRun, isJob: isJob)
        self.admission = ControlAdmission(settings: policy.control)
        self.systemd = SystemdNotifier(logger: logger)
        // Our own launch variables are set per worker; an inherited copy would shadow them
        // (getenv returns the first match).
        let launchVariables = [WireLayout.workerNameVariable, WireLayout.supervisorPIDVariable,
                               WireLayout.heartbeatIntervalVariable, WireLayout.memoryLimitVariable,
                               WireLayout.resumedVariable, WireLayout.poisonItemVariable,
                               WireLayout.poisonEvidenceVariable]
        // systemd's variables are the root's alone: a worker holding them could speak for it.
        let overridden = launchVariables + SystemdNotifier.environmentVariables + environment.keys
        let inherited = Posix.environmentEntries().filter { text in !overridden.contains { text.hasPrefix($0 + "=") } }
        self.baseEnvironment = inherited + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// Blocks the supervision signals in the calling thread and every thread created after it.
    /// Call first thing in `main`, before anything can start a thread. C: `pthread_sigmask`, `signalfd`.
    /// - Throws: `SupervisorError.signals`.
    public static func takeOverSignals() throws(SupervisorError) -> FileDescriptor {
        signal(SIGPIPE, SIG_IGN)
        do throws(Errno) { return try Posix.signalDescriptor(for: [SIGCHLD, SIGTERM, SIGINT, SIGHUP]) } catch {
            throw SupervisorError(.signals, path: "signalfd", error)
        }
    }

    /// Runs the tree until it has stopped: after `cidp stop`, SIGTERM/SIGINT, the root giving up,
    /// or a job done.
    /// - Parameters:
    ///   - signalFD: from `takeOverSignals()`.
    ///   - runLock: the run directory's lock, taken (`RunDirectory.acquire`) before anything was
    ///     created; held until this returns.
    /// - Throws: `SupervisorError` when the control socket cannot be set up (nothing has been
    ///   started then).
    public func run(signalFD: FileDescriptor, runLock: RunDirectory.Lock) throws(SupervisorError) -> Outcome {
        defer { withExtendedLifetime(runLock) {} }
        self.signalFD = signalFD
        do throws(Errno) { try Posix.becomeSubreaper() } catch {
            throw SupervisorError(.signals, path: "PR_SET_CHILD_SUBREAPER", error)
        }
        do throws(Errno) { epoll = try Posix.Epoll() } catch {
            throw SupervisorError(.signals, path: "epoll", error)
        }
        devNullFD = try? Posix.open("/dev/null", O_RDONLY | O_CLOEXEC)
        if let adopted {
            // Re-executed (`cidp upgrade --root`): everything is open already and the tree runs.
            register(signalFD, as: .signals)
            resumeAdopted(adopted)
            try reserveDescriptors()
            consoleStartedAt = Posix.monotonicNow()
        } else {
            channels = try DataChannels(root: policy.root)
            let listenFD = try ControlConnection.listen(at: runDirectory.socketPath)
            self.listenFD = listenFD
            try reserveDescriptors()
            register(signalFD, as: .signals)
            register(listenFD, as: .listener)
            logger.notice("Supervisor starting", metadata: [
                "supervisor.pid": "\(getpid())", "tree.root": "\(policy.root.name)",
                "control.socket": "\(runDirectory.socketPath)",
            ])
            consoleStartedAt = Posix.monotonicNow()
            process(.boot)
        }
        while outcome == nil {
            waitAndDispatch()
        }
        drainOutput()
        finishConsole()
        tearDown()
        return outcome!
    }

    // MARK: The loop

    private func waitAndDispatch() {
        var timeout: Int32 = 1000
        if let deadline = earliestDeadline() {
            let remaining = deadline - Posix.monotonicNow()
            let ms = remaining <= .zero ? 0 : remaining.milliseconds + 1
            timeout = Int32(min(ms, 1000))
        }
        let events: [(token: UInt64, hangup: Bool)]
        do throws(Errno) { events = try epoll!.wait(capacity: 64, timeoutMilliseconds: timeout) } catch {
            preconditionFailure("epoll_wait failed: \(error)")
        }
        for event in events {
            let fd = FileDescriptor(rawValue: Int32(truncatingIfNeeded: event.token))
            guard let source = sources[fd] else { continue }
            dispatch(fd: fd, source: source)
        }
        closeIdleClients()
        if let deadline = tree.nextDeadline(), deadline <= Posix.monotonicNow() {
            process(.tick)
        }
        notifySystemd()
        publishSnapshotIfDue()
        tickConsole()
    }

    private func dispatch(fd: FileDescriptor, source: Source) {
        switch source {
        case .signals: readSignals()
        case .listener: acceptClients()
        case .control(let id, let pid): readControl(fd: fd, worker: id, pid: pid)
        case .output: readOutput(fd: fd)
        case .client: readClient(fd: fd)
        }
    }

    /// Feeds an event and carries out the actions, including the events they cause.
    func process(_ event: TreeEvent) {
        events.append(event)
        drainEvents()
    }

    /// Feeds the queued events (spawn results, mostly) and carries out their actions.
    func drainEvents() {
        while !events.isEmpty {
            let next = events.removeFirst()
            for action in tree.handle(next, now: Posix.monotonicNow()) { perform(action) }
        }
    }

    func perform(_ action: TreeAction) {
        switch action {
        case .spawn(let id):
            spawn(id)
        case .signal(let pid, let signal):
            Posix.signalGroup(pid, signal)
        case .notice(let notice):
            log(notice)
            observeForSystemd(notice)
            figures.note(notice)
        case .finished(let exitCode, let message):
            outcome = Outcome(exitCode: exitCode, message: message)
        case .answer(let ticket, let reply):
            answer(ticket, reply)
        }
    }

    // MARK: Signals

    private func readSignals() {
        guard let signalFD else { return }
        var reap = false
        while let (signo, sender) = Posix.readSignal(signalFD) {
            switch signo {
            case SIGCHLD:
                reap = true
            case SIGTERM, SIGINT:
                logger.notice("Shutdown requested", metadata: ["signal": "\(ExitStatus.signalName(signo))", "sender.pid": "\(sender)"])
                process(.shutdown(reason: "stopped by \(ExitStatus.signalName(signo))"))
            case SIGHUP:
                logger.notice("Policy reload requested", metadata: ["signal": "SIGHUP", "sender.pid": "\(sender)"])
                reload(dryRun: false, from: nil)
            default:
                break
            }
        }
        // Standard signals coalesce: one SIGCHLD may stand for many exits, so reap them all.
        guard reap else { return }
        for (pid, status) in Posix.reapExited() {
            // What the worker sent and printed just before it died is still queued: read it first,
            // so that its last `working` item and output lines count for this exit.
            readLeftovers(ofExited: pid)
            process(.exited(pid: pid, status: ExitStatus(waitStatus: status), lastError: lastErrors.removeValue(forKey: pid)))
        }
    }

    // MARK: Worker channels

    func readControl(fd: FileDescriptor, worker id: ElementID, pid: Int32) {
        guard var reader = controlReaders[fd] else { return }
        let result: FrameReader.ReadResult
        do throws(WireError) {
            result = try reader.readAvailable()
        } catch {
            // A worker that sends a corrupt frame is not trusted further: it is killed and
            // restarted by its policy; nothing of the bad frame is applied.
            logger.error("Corrupt frame on control channel; killing worker", metadata: [
                "worker.name": "\(tree.name(of: id))", "worker.pid": "\(pid)", "error": "\(error)",
            ])
            Posix.signalGroup(pid, SIGKILL)
            unregister(fd)
            return
        }
        controlReaders[fd] = reader
        let frames: [Frame]
        var ended = false
        switch result {
        case .frames(let received): frames = received
        case .endOfFile(let received): frames = received; ended = true
        }
        for frame in frames {
            let message: ControlMessage
            do throws(WireError) {
                message = try ControlMessage(frame: frame)
            } catch {
                logger.error("Malformed control message; killing worker", metadata: [
                    "worker.name": "\(tree.name(of: id))", "worker.pid": "\(pid)", "error": "\(error)",
                ])
                Posix.signalGroup(pid, SIGKILL)
                unregister(fd)
                return
            }
            switch message {
            case .ready(let build): process(.ready(id, pid: pid, build: build))
            case .heartbeat: process(.heartbeat(id, pid: pid))
            case .health(.healthy): process(.health(id, pid: pid, degraded: nil))
            case .health(.degraded(let reason)): process(.health(id, pid: pid, degraded: reason))
            case .progress(let progress):
                noteProgress(progress, of: id)
                noteProgressForSystemd(progress, of: id)
                keepProgressForStatus(progress, of: id)
            case .jobDone:
                // The worker's part of the job is done (the loader's last batch, the trainer's model).
                process(.jobDone(id, pid: pid))
            case .halted(let reason):
                process(.halted(id, pid: pid, reason: reason))
            case .working(let item):
                logger.debug("Worker working", metadata: ["worker.name": "\(tree.name(of: id))", "item": "\(item)"])
                process(.working(id, pid: pid, item: item))
            }
        }
        if ended { unregister(fd) }
    }

    // MARK: Descriptors

    func register(_ fd: FileDescriptor, as source: Source) {
        sources[fd] = source
        do throws(Errno) { try epoll!.add(fd, token: UInt64(UInt32(bitPattern: fd.rawValue))) } catch {
            preconditionFailure("epoll_ctl(ADD, \(fd)) failed: \(error)")
        }
    }

    func unregister(_ fd: FileDescriptor) {
        guard sources.removeValue(forKey: fd) != nil else { return }
        epoll?.remove(fd)
        controlReaders[fd] = nil
        forwarders[fd] = nil
        clients[fd] = nil
        Posix.close(fd)
    }

    private func tearDown() {
        // A `cidp stop` client waits for end of file on its connection. Its descriptor is left for
        // the kernel to close as this process exits: closed here, the client could return while
        // the run directory is still locked and the socket still there.
        let stopWaiters = Set(clients.filter { $0.value.waiting == .exit }.keys)
        for fd in Array(clients.keys) where !stopWaiters.contains(fd) { unregister(fd) }
        for fd in Array(sources.keys) where fd != signalFD && !stopWaiters.contains(fd) { unregister(fd) }
        unlink(runDirectory.socketPath)
        epoll?.close()
        if let devNullFD { Posix.close(devNullFD) }
        if let spare = admission.spareFD { Posix.close(spare) }
        logger.notice("Supervisor stopped", metadata: ["exit.code": "\(outcome?.exitCode ?? 0)"])
    }
}
