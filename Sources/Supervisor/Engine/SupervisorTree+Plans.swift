#if canImport(Glibc)
import Glibc
#endif

extension SupervisorTree {
    /// Works through every node that has something to do, until none has.
    mutating func drainPendingNodes() {
        while !pendingNodes.isEmpty {
            advance(pendingNodes.removeFirst())
        }
    }

    /// Gives `id` (a node) a plan that starts its children in order.
    mutating func beginStart(of id: ElementID) {
        let now = self.now
        modifyNode(id) { node in
            node.mode = .starting
            node.intensity.reset()
            node.starts += 1
            node.startedAt = now
            node.disposition = .restarting
            node.plan = node.children.map { .start($0, notBefore: now) }
            node.current = nil
            node.currentBegun = false
            node.trouble = nil
        }
        // A node that starts is a new supervisor, as in OTP: its children start over, and so do
        // their backoffs (a node its parent restarts after it gave up tries again from the
        // first, short delay; its give-up stays bounded).
        for child in node(id).children where isWorker(child) {
            modifyWorker(child) { $0.consecutiveRestarts = 0 }
        }
        pendingNodes.append(id)
    }

    /// Gives `id` (a node) a plan that stops its children in reverse start order.
    mutating func beginStop(of id: ElementID, disposition: Disposition) {
        modifyNode(id) { node in
            switch node.mode {
            case .givingUp, .halted: break   // they say why the node is stopping
            default: node.mode = .stopping
            }
            node.disposition = disposition
            node.plan = node.children.reversed().map { .stop($0) }
            node.current = nil
            node.currentBegun = false
        }
        pendingNodes.append(id)
    }

    /// Runs `id`'s plan until a step has to wait for an event or the plan is done.
    private mutating func advance(_ id: ElementID) {
        while true {
            var node = self.node(id)
            if let current = node.current {
                if node.currentBegun { return }
                guard case .start(_, let notBefore) = current, now < notBefore else {
                    modifyNode(id) { $0.currentBegun = true }
                    if execute(current, in: id) {
                        modifyNode(id) { $0.current = nil; $0.currentBegun = false }
                        continue
                    }
                    return
                }
                return
            }
            guard !node.plan.isEmpty else {
                planFinished(id)
                return
            }
            node.current = node.plan.removeFirst()
            node.currentBegun = false
            elements[id] = .node(node)
        }
    }

    /// Carries out one step; true when it is already complete.
    private mutating func execute(_ step: Step, in nodeID: ElementID) -> Bool {
        switch (step, elements[step.subject]) {
        case (.stop(let id), .worker(let worker)):
            switch worker.phase {
            case .spawning:
                modifyWorker(id) { $0.phase = .spawning(stopWhenSpawned: true) }
                return false
            case .starting, .running:
                signalStop(id)
                return false
            case .stopping(let pid, let killAt, let cause):
                // Already going down (watchdog, readiness timeout): wait for that exit as ours.
                // A halted worker stays halted when it is down (its exit completes this step).
                modifyWorker(id) { $0.phase = .stopping(pid: pid, killAt: killAt, cause: cause == .halt ? .halt : .plan) }
                return false
            case .halted:
                return true
            case .idle, .restarting, .stopped, .failed:
                let disposition = node(nodeID).disposition
                if worker.phase != .idle || disposition != .restarting {
                    let resting = restingPhase(of: id, disposition: disposition)
                    modifyWorker(id) { $0.phase = resting }
                }
                return true
            }
        case (.stop(let id), .node(let child)):
            switch child.mode {
            case .idle, .stopped, .failed:
                return true
            case .halted:
                // Its children may still be going down from the halt: wait for them, and keep
                // them halted.
                beginStop(of: id, disposition: .halted)
                return false
            default:
                beginStop(of: id, disposition: node(nodeID).disposition)
                return false
            }
        case (.start(let id, _), .worker(let worker)):
            // Held down by a halt (only a resume starts it again) or by an operator (only a start).
            if worker.phase == .halted || worker.halt != nil || worker.heldBy != nil { return true }
            modifyWorker(id) { $0.phase = .spawning(stopWhenSpawned: false) }
            actions.append(.spawn(id))
            return false
        case (.start(let id, _), .node(let child)):
            if child.halt != nil || child.heldBy != nil { return true }
            beginStart(of: id)
            return false
        }
    }

    /// Sends the stop signal of a live worker's shutdown spec and arms its kill deadline.
    mutating func signalStop(_ id: ElementID, cause: StopCause = .plan) {
        let now = self.now
        let worker = self.worker(id)
        guard let pid = worker.pid else { return }
        switch worker.spec.shutdown {
        case .brutalKill:
            modifyWorker(id) { $0.phase = .stopping(pid: pid, killAt: nil, cause: cause) }
            actions.append(.notice(.stopping(worker: worker.spec.name, pid: pid, signal: SIGKILL)))
            actions.append(.signal(pid: pid, signal: SIGKILL))
        case .grace(let grace):
            modifyWorker(id) { $0.phase = .stopping(pid: pid, killAt: now + grace, cause: cause) }
            actions.append(.notice(.stopping(worker: worker.spec.name, pid: pid, signal: SIGTERM)))
            actions.append(.signal(pid: pid, signal: SIGTERM))
        }
    }

    /// Marks the node's current step done if it is `step` (for a start, any `notBefore`).
    mutating func completeStep(in nodeID: ElementID, ifCurrentIs step: Step) {
        let node = self.node(nodeID)
        guard let current = node.current, node.currentBegun, current.subject == step.subject else { return }
        switch (current, step) {
        case (.start, .start), (.stop, .stop): break
        default: return
        }
        modifyNode(nodeID) { $0.current = nil; $0.currentBegun = false }
        pendingNodes.append(nodeID)
    }

    /// The node's plan is empty: settle its mode and tell its parent.
    private mutating func planFinished(_ id: ElementID) {
        let node = self.node(id)
        switch node.mode {
        case .starting:
            modifyNode(id) { $0.mode = .running }
            if let parentID = node.parent {
                completeStep(in: parentID, ifCurrentIs: .start(id, notBefore: .zero))
            } else {
                actions.append(.notice(.treeReady(after: now - (bootedAt ?? now))))
            }
        case .stopping:
            modifyNode(id) { $0.mode = .stopped }
            if let parentID = node.parent {
                completeStep(in: parentID, ifCurrentIs: .stop(id))
            } else {
                finish()
            }
        case .halted:
            // Halted nodes count as done for whatever their parent was doing (starting them
            // during boot, stopping them for a shutdown): the rest of the tree goes on.
            if let parentID = node.parent {
                completeStep(in: parentID, ifCurrentIs: .start(id, notBefore: .zero))
                completeStep(in: parentID, ifCurrentIs: .stop(id))
            }
            if node.resumesWhenHalted, !isShuttingDown { resumeHalted(id) }
        case .givingUp(let reason):
            modifyNode(id) { $0.mode = .failed(reason) }
            guard let parentID = node.parent else {
                finish()
                return
            }
            let parentNode = self.node(parentID)
            if parentNode.current == .stop(id) && parentNode.currentBegun {
                completeStep(in: parentID, ifCurrentIs: .stop(id))
            } else if case .start(id, _)? = parentNode.current, parentNode.currentBegun {
                startFailed(id, reason: reason, status: nil)
            } else {
                childFailed(id, in: parentID, reason: reason, abnormal: true)
            }
        case .idle, .running, .stopped, .failed:
            break
        }
    }

    private mutating func finish() {
        isFinished = true
        actions.append(.finished(exitCode: exitCode, message: exitMessage))
    }

    /// A start step failed: the child exited or timed out before ready, or could not be spawned.
    mutating func startFailed(_ id: ElementID, reason: String, status: ExitStatus?) {
        let parentID = parent(of: id)!
        if isWorker(id) { actions.append(.notice(.startFailed(worker: name(of: id), reason: reason))) }
        if isWorker(id), let upgrade = worker(id).upgrade {
            rollBack(id, upgrade, reason: reason)
            return
        }
        let parentNode = node(parentID)
        guard case .start(id, _)? = parentNode.current else {
            childFailed(id, in: parentID, reason: reason, abnormal: true)
            return
        }
        modifyNode(parentID) { $0.current = nil; $0.currentBegun = false }
        pendingNodes.append(parentID)
        childFailed(id, in: parentID, reason: "'\(name(of: id))' failed to start: \(reason)", abnormal: true)
    }

    /// The children that restart together with `id` under its node's strategy, in start order.
    func affectedSiblings(of id: ElementID, in node: Node) -> [ElementID] {
        switch node.spec.strategy {
        case .oneForOne: return [id]
        case .oneForAll: return node.children
        case .restForOne: return Array(node.children.drop { $0 != id })
        }
    }

    /// A child went down on its own. Decide by restart type, restart intensity and strategy.
    mutating func childFailed(_ id: ElementID, in nodeID: ElementID, reason: String, abnormal: Bool) {
        let parentNode = node(nodeID)
        guard !isShuttingDown, parentNode.mode == .running || parentNode.mode == .starting else {
            // Down with its node: failed, halted or stopped like it, never restarted.
            settleDown(id, as: parentNode.disposition == .restarting ? .stopped : parentNode.disposition)
            return
        }
        if case .worker(let worker) = elements[id] {
            switch worker.spec.restart {
            case .temporary:
                settleDown(id, as: .stopped)
                actions.append(.notice(.notRestarted(child: worker.spec.name, why: "temporary")))
                return
            case .transient where !abnormal:
                settleDown(id, as: .stopped)
                actions.append(.notice(.notRestarted(child: worker.spec.name, why: "transient, exited normally")))
                return
            case .permanent, .transient:
                break
            }
        }
        var intensity = parentNode.intensity
        let verdict = intensity.record(at: intensityClock(of: nodeID))
        modifyNode(nodeID) { $0.intensity = intensity }
        if verdict == .exhausted {
            let spec = parentNode.spec
            let exceeded = "\(reason); \(intensity.count) restarts of children of '\(spec.name)' within "
                + "\(Self.format(spec.period)) exceed its intensity \(spec.intensity)"
            // A job always gives up: it must end. A service may keep a branch retrying, in view.
            guard spec.onIntensityExceeded == .keepRetrying, !isJob else {
                giveUp(nodeID, reason: exceeded)
                return
            }
            if parentNode.trouble == nil { actions.append(.notice(.intensityExceeded(node: spec.name, reason: exceeded))) }
            modifyNode(nodeID) { $0.trouble = "restart intensity exceeded, retrying: \(exceeded)" }
        }
        let delay = backoffDelay(for: id)
        let affected = affectedSiblings(of: id, in: parentNode)
        let affectedSet = Set(affected)
        // The item is the dead incarnation's: it is cleared only when the next one is spawned.
        let item = isWorker(id) ? worker(id).item : nil
        actions.append(.notice(.restartScheduled(child: name(of: id), delay: delay, restarts: intensity.count, item: item)))
        settleDown(id, as: .restarting)

        var steps = affected.reversed().filter { $0 != id }.map { Step.stop($0) }
        steps += affected.filter { !isSpentTemporary($0) }.enumerated().map { index, child in
            .start(child, notBefore: index == 0 ? now + delay : now)
        }
        let notAffected = parentNode.plan.filter { !affectedSet.contains($0.subject) }
        var abandonsCurrent = false
        if let current = parentNode.current, affectedSet.contains(current.subject), case .start = current {
            abandonsCurrent = true
        }
        modifyNode(nodeID) { node in
            node.disposition = .restarting
            if abandonsCurrent {
                // The start under way belongs to the restart set: the new plan supersedes it
                // (its stop step takes down whatever that start had spawned).
                node.current = nil
                node.currentBegun = false
            }
            node.plan = steps + notAffected
        }
        pendingNodes.append(nodeID)
    }

    /// Whether `id` is a temporary worker that has already been started: OTP never starts one
    /// again (it deletes it from its supervisor), not even together with its siblings.
    func isSpentTemporary(_ id: ElementID) -> Bool {
        guard case .worker(let worker) = elements[id] else { return false }
        return worker.spec.restart == .temporary && worker.phase != .idle
    }

    /// The phase a worker takes once a stop step has brought it down: its node's disposition,
    /// except that a temporary worker is not coming back and rests as stopped.
    func restingPhase(of id: ElementID, disposition: Disposition) -> WorkerPhase {
        // Removed by a reload: never coming back.
        if retired.contains(id) { return .stopped }
        // Held stopped by an operator, itself or a node above it: stopped, whatever its node is doing.
        if disposition == .restarting, isUnderHold(id) { return .stopped }
        if disposition == .restarting, worker(id).spec.restart == .temporary { return .stopped }
        return Self.phase(for: disposition)
    }

    /// A child that is down for good (or until its node restarts) takes its resting phase.
    private mutating func settleDown(_ id: ElementID, as disposition: Disposition) {
        switch elements[id] {
        case .worker(let worker):
            if worker.pid == nil { modifyWorker(id) { $0.phase = Self.phase(for: disposition) } }
        case .node:
            break
        }
    }

    /// Restart intensity exhausted: stop every child, then fail towards the parent.
    private mutating func giveUp(_ id: ElementID, reason: String) {
        actions.append(.notice(.gaveUp(node: node(id).spec.name, reason: reason)))
        if node(id).parent == nil {
            exitCode = 1
            exitMessage = "giving up: \(reason)"
        }
        modifyNode(id) { $0.mode = .givingUp(reason) }
        beginStop(of: id, disposition: .failed)
    }

    /// The delay before restarting `id`: none the first time, then capped exponential with
    /// jitter; the count resets once the child had stayed up for its stable period.
    private mutating func backoffDelay(for id: ElementID) -> Duration {
        guard case .worker(let worker) = elements[id] else { return .zero }
        let backoff = worker.spec.backoff
        var consecutive = worker.consecutiveRestarts
        if let readyAt = worker.readyAt, now - readyAt >= backoff.stablePeriod { consecutive = 0 }
        consecutive += 1
        modifyWorker(id) { $0.consecutiveRestarts = consecutive }
        return backoff.delay(forRestart: consecutive, unitRandom: rng.nextUnit())
    }

    static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}
