#if canImport(Glibc)
import Glibc
#endif

extension SupervisorTree {
    /// Feeds one event; returns the actions to carry out, in order.
    public mutating func handle(_ event: TreeEvent, now: Duration) -> [TreeAction] {
        begin(at: now)
        guard !isFinished else { return [] }
        switch event {
        case .boot:
            precondition(bootedAt == nil, "the tree was booted twice")
            bootedAt = now
            beginStart(of: Self.rootID)
        case .spawned(let id, let pid):
            spawned(id, pid: pid)
        case .spawnFailed(let id, let reason):
            spawnFailed(id, reason: reason)
        case .ready(let id, let pid, let build):
            ready(id, pid: pid, build: build)
        case .heartbeat(let id, let pid):
            if self.worker(id).pid == pid { modifyWorker(id) { $0.lastHeartbeat = now } }
        case .health(let id, let pid, let degraded):
            health(id, pid: pid, degraded: degraded)
        case .halted(let id, let pid, let reason):
            halted(id, pid: pid, reason: reason)
        case .working(let id, let pid, let item):
            working(id, pid: pid, item: item)
        case .exited(let pid, let status, let lastError):
            exited(pid: pid, status: status, lastError: lastError)
        case .jobDone(let id, let pid):
            jobDone(id, pid: pid)
        case .tick:
            checkDeadlines()
        case .request(let request, let ticket):
            receive(request, ticket: ticket)
        case .shutdown(let reason):
            if isJob, !isShuttingDown, exitCode == ExitCode.success {
                // Stopped from outside before a worker said the work is done: not a success.
                exitCode = ExitCode.interrupted
                shutdown(reason: "interrupted: \(reason)")
            } else {
                shutdown(reason: reason)
            }
        }
        return end()
    }

    private mutating func spawned(_ id: ElementID, pid: Int32) {
        let now = self.now
        guard case .spawning(let stopWhenSpawned) = worker(id).phase else {
            preconditionFailure("'\(name(of: id))' reported spawned while not spawning")
        }
        let spec = worker(id).spec
        modifyWorker(id) {
            $0.spawnedAt = now
            // Readiness belongs to one incarnation: a stale readyAt would make a failed start
            // look stable and reset the backoff.
            $0.readyAt = nil
            $0.starts += 1
            $0.phase = .starting(pid: pid, deadline: now + spec.readinessTimeout)
            // The resumed flag was for this start only; a new incarnation has no item yet.
            $0.isResumedStart = false
            $0.item = nil
        }
        actions.append(.notice(.spawned(worker: spec.name, pid: pid, attempt: worker(id).starts)))
        if stopWhenSpawned { signalStop(id) }
    }

    private mutating func spawnFailed(_ id: ElementID, reason: String) {
        guard case .spawning(let stopWhenSpawned) = worker(id).phase else {
            preconditionFailure("'\(name(of: id))' reported a failed spawn while not spawning")
        }
        guard stopWhenSpawned else {
            modifyWorker(id) { $0.phase = .restarting }
            startFailed(id, reason: "cannot spawn: \(reason)", status: nil)
            return
        }
        // A stop step is waiting for this worker's exit: with no process there is nothing to
        // stop, so that step is done (not a failure to restart).
        actions.append(.notice(.startFailed(worker: name(of: id), reason: "cannot spawn: \(reason)")))
        let parentID = worker(id).parent
        let resting = restingPhase(of: id, disposition: node(parentID).disposition)
        modifyWorker(id) { $0.phase = resting }
        completeStep(in: parentID, ifCurrentIs: .stop(id))
    }

    private mutating func ready(_ id: ElementID, pid: Int32, build: String?) {
        let now = self.now
        guard case .starting(let livePID, _) = worker(id).phase, livePID == pid else { return }
        modifyWorker(id) {
            $0.build = build
            // An upgrade's new binary is ready: nothing to roll back any more.
            $0.upgrade = nil
            $0.phase = .running(pid: pid, degraded: nil)
            $0.readyAt = now
            $0.lastHeartbeat = now
        }
        actions.append(.notice(.ready(worker: name(of: id), pid: pid, after: now - worker(id).spawnedAt)))
        completeStep(in: worker(id).parent, ifCurrentIs: .start(id, notBefore: .zero))
    }

    private mutating func health(_ id: ElementID, pid: Int32, degraded: String?) {
        guard case .running(let livePID, let previous) = worker(id).phase, livePID == pid, previous != degraded else { return }
        modifyWorker(id) { $0.phase = .running(pid: pid, degraded: degraded) }
        actions.append(.notice(.healthChanged(worker: name(of: id), pid: pid, degraded: degraded)))
    }

    private mutating func exited(pid: Int32, status: ExitStatus, lastError: String?) {
        guard let id = worker(withPID: pid) else {
            actions.append(.notice(.strayProcessReaped(pid: pid, status: status)))
            return
        }
        let phase = worker(id).phase
        let parentID = worker(id).parent
        let lastError = lastError.map(Self.boundedError)
        modifyWorker(id) { $0.lastExit = status; $0.lastError = lastError }
        // How the exit reads in a give-up line: the status, and what the worker last said was wrong.
        let exit = lastError.map { "\(status): \($0)" } ?? "\(status)"
        switch phase {
        case .stopping(_, _, .plan):
            actions.append(.notice(.exited(worker: name(of: id), pid: pid, status: status, expected: true)))
            let resting = restingPhase(of: id, disposition: node(parentID).disposition)
            modifyWorker(id) { $0.phase = resting }
            completeStep(in: parentID, ifCurrentIs: .stop(id))
        case .stopping(_, _, .halt):
            actions.append(.notice(.exited(worker: name(of: id), pid: pid, status: status, expected: true)))
            heldDown(id)
        case .stopping(_, _, .readinessTimeout):
            actions.append(.notice(.exited(worker: name(of: id), pid: pid, status: status, expected: true)))
            countCrash(of: id, cause: "not ready in time (killed)")
            modifyWorker(id) { $0.phase = .restarting }
            startFailed(id, reason: "not ready within \(worker(id).spec.readinessTimeout)", status: status)
        case .starting:
            actions.append(.notice(.exited(worker: name(of: id), pid: pid, status: status, expected: false)))
            countCrash(of: id, cause: PoisonPill.cause(of: status))
            modifyWorker(id) { $0.phase = .restarting }
            startFailed(id, reason: "exited before it was ready (\(exit))", status: status)
        case .stopping(_, _, .watchdog):
            actions.append(.notice(.exited(worker: name(of: id), pid: pid, status: status, expected: true)))
            countCrash(of: id, cause: "hung (killed by the watchdog)")
            modifyWorker(id) { $0.phase = .restarting }
            childFailed(id, in: parentID, reason: "'\(name(of: id))' stopped heartbeating", abnormal: true)
        case .running:
            actions.append(.notice(.exited(worker: name(of: id), pid: pid, status: status, expected: false)))
            if !status.isNormal { countCrash(of: id, cause: PoisonPill.cause(of: status)) }
            modifyWorker(id) { $0.phase = .restarting }
            childFailed(id, in: parentID, reason: "'\(name(of: id))' exited (\(exit))", abnormal: !status.isNormal)
        case .idle, .spawning, .restarting, .stopped, .failed, .halted:
            preconditionFailure("pid \(pid) of '\(name(of: id))' exited in phase \(phase)")
        }
    }

    static func phase(for disposition: Disposition) -> WorkerPhase {
        switch disposition {
        case .restarting: return .restarting
        case .stopped: return .stopped
        case .failed: return .failed
        case .halted: return .halted
        }
    }

    private mutating func checkDeadlines() {
        let now = self.now
        for id in elements.indices {
            switch elements[id] {
            case .worker(let worker):
                switch worker.phase {
                case .starting(let pid, let deadline) where now >= deadline:
                    actions.append(.notice(.readinessTimeout(worker: worker.spec.name, pid: pid)))
                    modifyWorker(id) { $0.phase = .stopping(pid: pid, killAt: nil, cause: .readinessTimeout) }
                    actions.append(.signal(pid: pid, signal: SIGKILL))
                case .running(let pid, _):
                    if let watchdog = worker.spec.watchdog, now - worker.lastHeartbeat >= watchdog {
                        actions.append(.notice(.watchdogExpired(worker: worker.spec.name, pid: pid,
                                                                silentFor: now - worker.lastHeartbeat)))
                        modifyWorker(id) { $0.phase = .stopping(pid: pid, killAt: nil, cause: .watchdog) }
                        actions.append(.signal(pid: pid, signal: SIGKILL))
                    }
                case .stopping(let pid, let killAt?, let cause) where now >= killAt:
                    actions.append(.notice(.shutdownTimeout(worker: worker.spec.name, pid: pid)))
                    modifyWorker(id) { $0.phase = .stopping(pid: pid, killAt: nil, cause: cause) }
                    actions.append(.signal(pid: pid, signal: SIGKILL))
                default:
                    break
                }
            case .node(let node):
                if node.current != nil, !node.currentBegun { pendingNodes.append(id) }
            }
        }
    }

    /// A worker says the job is done: the tree stops in order and finishes with success (unless
    /// something already decided otherwise, such as a halt).
    private mutating func jobDone(_ id: ElementID, pid: Int32) {
        guard worker(id).pid == pid, !isShuttingDown else { return }
        actions.append(.notice(.jobDone(worker: name(of: id))))
        shutdown(reason: "job done: '\(name(of: id))' finished its work")
    }

    /// The longest last-error line kept, in characters.
    static let maxErrorLength = 300

    /// A worker's last error line without surrounding white space, cut with `…`, otherwise as it
    /// was printed (like a halt's reason, see `boundedReason`: text views escape it, JSON carries it).
    static func boundedError(_ text: String) -> String {
        var line = Substring(text)
        while line.first?.isWhitespace == true { line.removeFirst() }
        while line.last?.isWhitespace == true { line.removeLast() }
        return line.count > maxErrorLength ? line.prefix(maxErrorLength - 1) + "…" : String(line)
    }

    mutating func shutdown(reason: String) {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        if exitMessage.isEmpty { exitMessage = reason }
        for id in elements.indices {
            guard case .node = elements[id] else { continue }
            modifyNode(id) { $0.plan = []; $0.current = nil; $0.currentBegun = false }
        }
        beginStop(of: Self.rootID, disposition: .stopped)
    }
}
