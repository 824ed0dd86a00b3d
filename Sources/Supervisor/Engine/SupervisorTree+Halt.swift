/// Halts (an integrity gate stops its chain), resumes (`cidp resume`) and poison pills (a worker
/// that keeps crashing on the same item).
extension SupervisorTree {
    /// Where a resumed node or worker is: still coming back, back, or down again.
    public enum ResumeProgress: Sendable, Equatable {
        case underWay
        case running
        /// Halted again (its gate stopped it once more); the halt's reason.
        case halted(String)
        /// Its node gave up, or the tree is stopping.
        case failed(String)
    }

    /// The halted nodes, and the workers halted on their own (directly under the root), in preorder.
    public var haltedElements: [ElementID] {
        elements.indices.filter { id in
            guard !retired.contains(id) else { return false }
            switch elements[id] {
            case .node(let node): return node.halt != nil
            case .worker(let worker): return worker.halt != nil
            }
        }
    }

    /// How the resume of `id` is going.
    public func resumeProgress(of id: ElementID) -> ResumeProgress {
        if isShuttingDown || isFinished { return .failed("the tree is shutting down") }
        switch elements[id] {
        case .node(let node):
            switch node.mode {
            case .halted(let halt): return node.resumesWhenHalted ? .underWay : .halted(halt.reason)
            case .failed(let reason), .givingUp(let reason): return .failed(reason)
            case .running: return isIdle(id) ? .running : .underWay
            case .idle, .starting, .stopping, .stopped: return .underWay
            }
        case .worker(let worker):
            if let halt = worker.halt { return worker.resumesWhenDown ? .underWay : .halted(halt.reason) }
            switch worker.phase {
            case .running: return .running
            case .failed: return .failed("'\(worker.spec.name)' failed")
            default: return .underWay
            }
        }
    }

    /// What the driver must tell the worker it is about to spawn.
    public func spawnContext(of id: ElementID) -> SpawnContext {
        let worker = self.worker(id)
        var context = SpawnContext(isResumed: worker.isResumedStart)
        let threshold = worker.spec.poisonPillCrashes
        if threshold > 0, let count = worker.crashCount, count.crashes >= threshold {
            context.poisonPill = PoisonPill(item: count.item, crashes: count.crashes, causes: count.causes)
        }
        return context
    }

    /// The nearest halted node at or above `id`, if any.
    func haltedNode(atOrAbove id: ElementID) -> ElementID? {
        var current: ElementID? = id
        while let candidate = current {
            if case .node(let node) = elements[candidate], node.halt != nil { return candidate }
            current = parent(of: candidate)
        }
        return nil
    }

    /// The halt that holds `id` down: its own, or that of a halted node above it.
    func haltHolding(_ id: ElementID) -> Halt? {
        if case .worker(let worker) = elements[id], let halt = worker.halt { return halt }
        return haltedNode(atOrAbove: id).flatMap { node($0).halt }
    }

    // MARK: Events

    /// A worker's gate halted: its node stops every child in reverse order and holds them down
    /// (the worker alone when its node is the root). Not a failure: intensity is not charged.
    mutating func halted(_ id: ElementID, pid: Int32, reason: String) {
        let worker = self.worker(id)
        guard worker.pid == pid, !isShuttingDown else { return }
        switch worker.phase {
        case .starting, .running: break
        default: return   // already going down: the halt changes nothing
        }
        let parentID = worker.parent
        let parentNode = node(parentID)
        guard parentNode.mode == .running || parentNode.mode == .starting else { return }
        let halt = Halt(by: worker.spec.name, reason: Self.boundedReason(reason))
        actions.append(.notice(.halted(node: parentNode.spec.name, worker: halt.by, reason: halt.reason)))
        if haltEndsRun {
            // The whole tree stops in order; the halted chain is stopped at once besides (its
            // node's own plan), and the root's stop step waits for it in its turn.
            exitCode = 1
            exitMessage = "\(parentNode.spec.name) halted by \(halt.by): \(halt.reason)"
            shutdown(reason: exitMessage)
        }
        if parentNode.parent == nil {
            haltAlone(id, halt)
        } else {
            modifyNode(parentID) { $0.mode = .halted(halt); $0.resumesWhenHalted = false }
            beginStop(of: parentID, disposition: .halted)
        }
    }

    /// The longest halt reason kept, in characters: the reason is one line for the operator.
    static let maxReasonLength = 1000

    /// `reason` cut to `maxReasonLength` with `…`, otherwise as the worker sent it: it may quote
    /// what the world wrote (a pump id, an API's error body), and is kept exact so that JSON
    /// (`cidp status --json`) carries it exactly; every text view shows it through
    /// `OperatorText.escaped`, on one line with its control characters visible.
    static func boundedReason(_ reason: String) -> String {
        reason.count > maxReasonLength ? reason.prefix(maxReasonLength - 1) + "…" : reason
    }

    /// Halts a worker directly under the root: the root's other children are not its chain.
    private mutating func haltAlone(_ id: ElementID, _ halt: Halt) {
        let rootID = Self.rootID
        modifyWorker(id) { $0.halt = halt; $0.resumesWhenDown = false }
        // Pending starts would be skipped anyway; a pending stop (a shutdown) must still wait for it.
        modifyNode(rootID) { node in
            node.plan.removeAll { step in
                if case .start(id, _) = step { return true }
                return false
            }
        }
        let root = node(rootID)
        if let current = root.current, current.subject == id, case .start = current {
            if root.currentBegun {
                completeStep(in: rootID, ifCurrentIs: current)   // started, then halted: done
            } else {
                modifyNode(rootID) { $0.current = nil }
                pendingNodes.append(rootID)
            }
        }
        signalStop(id, cause: .halt)
    }

    /// A worker halted on its own has exited: it rests halted, or resumes if asked meanwhile.
    mutating func heldDown(_ id: ElementID) {
        modifyWorker(id) { $0.phase = .halted }
        let worker = self.worker(id)
        completeStep(in: worker.parent, ifCurrentIs: .stop(id))
        if worker.resumesWhenDown, !isShuttingDown { resumeHalted(id) }
    }

    /// The worker starts on `item` (empty: idle). Another item, or idle, ends a crash count.
    mutating func working(_ id: ElementID, pid: Int32, item: String) {
        guard worker(id).pid == pid else { return }
        modifyWorker(id) { worker in
            worker.item = item.isEmpty ? nil : item
            if let count = worker.crashCount, count.item != item { worker.crashCount = nil }
        }
    }

    /// Counts an abnormal exit against the item the worker was working on, if it had one.
    mutating func countCrash(of id: ElementID, cause: String) {
        let worker = self.worker(id)
        guard let item = worker.item else { return }
        var count = worker.crashCount.flatMap { $0.item == item ? $0 : nil } ?? CrashCount(item: item, crashes: 0, causes: [])
        count.crashes += 1
        if !count.causes.contains(cause) { count.causes.append(cause) }
        modifyWorker(id) { $0.crashCount = count }
        let threshold = worker.spec.poisonPillCrashes
        if threshold > 0, count.crashes >= threshold {
            actions.append(.notice(.poisonPill(worker: worker.spec.name, item: item, crashes: count.crashes)))
        }
    }

    // MARK: Resume

    /// Lifts the halt of `id` (a node whose children are all down, or a worker that is down) and
    /// has its parent start it again, in its turn, as a normal start.
    mutating func resumeHalted(_ id: ElementID) {
        actions.append(.notice(.resumed(node: name(of: id))))
        switch elements[id] {
        case .node:
            modifyNode(id) { $0.mode = .stopped; $0.resumesWhenHalted = false }
        case .worker:
            modifyWorker(id) { $0.halt = nil; $0.resumesWhenDown = false }
        }
        for descendant in subtree(of: id) where isWorker(descendant) {
            modifyWorker(descendant) { worker in
                if worker.phase == .halted { worker.phase = .stopped }
                worker.isResumedStart = true
            }
        }
        guard let parentID = parent(of: id) else { return }
        let now = self.now
        modifyNode(parentID) { node in
            node.plan.removeAll { $0.subject == id }
            node.plan.append(.start(id, notBefore: now))
        }
        pendingNodes.append(parentID)
    }

    /// `id` and everything below it, in preorder.
    func subtree(of id: ElementID) -> [ElementID] {
        guard case .node(let node) = elements[id] else { return [id] }
        return [id] + node.children.flatMap { subtree(of: $0) }
    }
}
