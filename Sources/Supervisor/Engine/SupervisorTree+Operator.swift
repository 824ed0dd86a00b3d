/// Operator requests (`OperatorRequest`): checked, carried out through the nodes' plans, and
/// answered by the tree once done (`TreeAction.answer`). The driver routes the request in and the
/// answer out; it never decides when a request is done.
extension SupervisorTree {
    /// A request accepted and not answered yet.
    struct PendingRequest: Sendable, Equatable, Codable {
        var ticket: Int
        var request: OperatorRequest
        /// The elements it acts on.
        var targets: [ElementID]
        /// For a reload: its plan, the answer's text.
        var plan: String?
    }

    /// Takes a request: refused (answered at once) or begun and kept until done.
    mutating func receive(_ request: OperatorRequest, ticket: Int) {
        do throws(OperatorRefusal) {
            let targets: [ElementID]
            var plan: String?
            switch request {
            case .restart(let id): targets = try requestRestart(id)
            case .resume(let id): targets = try requestResume(id)
            case .stop(let id): targets = try requestStop(id)
            case .start(let id): targets = try requestStart(id)
            case .upgrade(let id, let executable):
                targets = try requestUpgrade(id, executable: executable, ticket: ticket)
            case .reload(let root):
                plan = "reloaded: " + (try reloadPlan(for: root)).text
                targets = try requestReload(root)
            }
            pendingRequests.append(PendingRequest(ticket: ticket, request: request, targets: targets, plan: plan))
        } catch {
            actions.append(.answer(ticket: ticket, .refused(error)))
        }
    }

    /// Answers every pending request that is done, or can no longer be (run at the end of every input).
    mutating func answerPendingRequests() {
        guard !pendingRequests.isEmpty else { return }
        var waiting: [PendingRequest] = []
        for pending in pendingRequests {
            if let answer = progress(of: pending) {
                actions.append(.answer(ticket: pending.ticket, answer))
            } else {
                waiting.append(pending)
            }
        }
        pendingRequests = waiting
    }

    /// Nil while the request is under way; its answer once it is done or cannot be.
    private func progress(of pending: PendingRequest) -> OperatorAnswer? {
        let names = pending.targets.map { name(of: $0) }
        if isShuttingDown || isFinished {
            return .failed("the tree is shutting down; \(names.joined(separator: ", ")) not \(Self.verb(pending.request))")
        }
        switch pending.request {
        case .upgrade(let id, _):
            if case .halted(let halt)? = parent(of: id).map({ node($0).mode }) {
                return .failed("node '\(name(of: parent(of: id)!))' halted: \(halt.reason)")
            }
            return upgradeProgress(of: id, ticket: pending.ticket)
        case .reload:
            for id in pending.targets {
                switch node(id).mode {
                case .halted(let halt): return .failed("node '\(name(of: id))' halted: \(halt.reason)")
                case .givingUp(let reason), .failed(let reason): return .failed("node '\(name(of: id))' gave up: \(reason)")
                default: if !isIdle(id) { return nil }
                }
            }
            return .done(pending.plan ?? "reloaded")
        case .resume:
            var running: [String] = []
            for id in pending.targets {
                switch resumeProgress(of: id) {
                case .underWay: return nil
                case .running: running.append(name(of: id))
                case .halted(let reason): return .failed("'\(name(of: id))' halted again: \(reason)")
                case .failed(let reason): return .failed("'\(name(of: id))' did not come back: \(reason)")
                }
            }
            return .done("resumed \(running.joined(separator: ", ")) (running)")
        case .restart(let id), .stop(let id), .start(let id):
            guard let parentID = parent(of: id) else { return .failed("no parent") }
            let parentNode = node(parentID)
            switch parentNode.mode {
            case .running, .starting: break
            case .halted(let halt): return .failed("node '\(parentNode.spec.name)' halted: \(halt.reason)")
            case .givingUp(let reason), .failed(let reason): return .failed("node '\(parentNode.spec.name)' gave up: \(reason)")
            case .idle, .stopping, .stopped: return .failed("node '\(parentNode.spec.name)' stopped")
            }
            guard isIdle(parentID) else { return nil }
            if case .stop = pending.request {
                let tied = names.filter { $0 != name(of: id) }
                return .done("stopped '\(name(of: id))'" + (tied.isEmpty ? "" : " and what its node ties to it: "
                    + tied.map { "'\($0)'" }.joined(separator: ", ")) + "; held until 'cidp start \(name(of: id))'")
            }
            let described = pending.targets.map(describe).joined(separator: ", ")
            return .done("\(Self.verb(pending.request)) \(described)")
        }
    }

    /// `'loader' (running, pid 42)`.
    private func describe(_ id: ElementID) -> String {
        let entry = snapshot(now: now).find(id: name(of: id))
        let detail = entry.map { "\($0.state)" + ($0.pid.map { ", pid \($0)" } ?? "") } ?? "unknown"
        return "'\(name(of: id))' (\(detail))"
    }

    private static func verb(_ request: OperatorRequest) -> String {
        switch request {
        case .restart: return "restarted"
        case .resume: return "resumed"
        case .stop: return "stopped"
        case .start: return "started"
        case .reload: return "reloaded"
        case .upgrade: return "upgraded"
        }
    }

    // MARK: Checks

    /// The node a request on `id` works through, once the checks every request shares pass.
    func runningParent(of id: ElementID) throws(OperatorRefusal) -> ElementID {
        guard let parentID = parent(of: id) else { throw .isRoot }
        guard !isShuttingDown else { throw .shuttingDown }
        if let halted = haltedNode(atOrAbove: id) { throw .nodeHalted(name(of: halted)) }
        if isWorker(id), worker(id).halt != nil { throw .halted(name(of: id)) }
        let parentNode = node(parentID)
        guard parentNode.mode == .running || parentNode.mode == .starting else {
            throw .nodeNotRunning(child: name(of: id), node: parentNode.spec.name)
        }
        return parentID
    }

    /// Who holds `id` stopped, if an operator does.
    func heldBy(_ id: ElementID) -> ElementID? {
        switch elements[id] {
        case .worker(let worker): return worker.heldBy
        case .node(let node): return node.heldBy
        }
    }

    /// Whether `id` or a node above it is held stopped by an operator.
    func isUnderHold(_ id: ElementID) -> Bool {
        var current: ElementID? = id
        while let element = current {
            if heldBy(element) != nil { return true }
            current = parent(of: element)
        }
        return false
    }

    private mutating func setHeld(_ id: ElementID, by holder: ElementID?) {
        switch elements[id] {
        case .worker: modifyWorker(id) { $0.heldBy = holder }
        case .node: modifyNode(id) { $0.heldBy = holder }
        }
    }

    // MARK: Restart

    /// `restart`: the child and, per its node's strategy, its siblings are stopped and started
    /// again, now (a start still waiting out its backoff is superseded). Not counted against
    /// restart intensity. - Returns: the child.
    private mutating func requestRestart(_ id: ElementID) throws(OperatorRefusal) -> [ElementID] {
        let parentID = try runningParent(of: id)
        if let holder = heldBy(id) {
            throw holder == id ? .heldStopped(name(of: id)) : .stoppedWith(name(of: id), holder: name(of: holder))
        }
        let parentNode = node(parentID)
        let affected = affectedSiblings(of: id, in: parentNode)
        let affectedSet = Set(affected)
        var steps = affected.reversed().map { Step.stop($0) }
        steps += affected.filter { heldBy($0) == nil }.map { Step.start($0, notBefore: now) }
        modifyNode(parentID) { node in
            node.plan.removeAll { affectedSet.contains($0.subject) }
            if let current = node.current, !node.currentBegun, affectedSet.contains(current.subject) {
                node.current = nil
            }
            node.plan += steps
            node.disposition = .restarting
        }
        pendingNodes.append(parentID)
        return [id]
    }

    // MARK: Resume

    /// `resume`: lifts the halt of `id`, or of every halted node and worker (nil).
    /// - Returns: the elements resumed; refused only when none could be.
    private mutating func requestResume(_ id: ElementID?) throws(OperatorRefusal) -> [ElementID] {
        guard !isShuttingDown else { throw .shuttingDown }
        guard let id else {
            let halted = haltedElements
            guard !halted.isEmpty else { throw .nothingHalted }
            var resumed: [ElementID] = []
            var first: OperatorRefusal?
            for target in halted {
                do throws(OperatorRefusal) {
                    try resumeOne(target)
                    resumed.append(target)
                } catch {
                    first = first ?? error
                }
            }
            if resumed.isEmpty, let first { throw first }
            return resumed
        }
        try resumeOne(id)
        return [id]
    }

    private mutating func resumeOne(_ id: ElementID) throws(OperatorRefusal) {
        guard haltedElements.contains(id) else {
            if let node = haltedNode(atOrAbove: id) { throw .insideHaltedNode(child: name(of: id), node: name(of: node)) }
            throw .notHalted(name(of: id))
        }
        if let parentID = parent(of: id) {
            let parentNode = node(parentID)
            guard parentNode.mode == .running || parentNode.mode == .starting else {
                throw .nodeNotRunning(child: name(of: id), node: parentNode.spec.name)
            }
        }
        switch elements[id] {
        case .node:
            if isIdle(id) { resumeHalted(id) } else { modifyNode(id) { $0.resumesWhenHalted = true } }
        case .worker(let worker):
            if worker.phase == .halted { resumeHalted(id) } else { modifyWorker(id) { $0.resumesWhenDown = true } }
        }
    }

    // MARK: Stop and start

    /// `stop`: stops the child and what its node's strategy ties to it (in reverse start order)
    /// and holds them stopped. - Returns: those, in start order.
    private mutating func requestStop(_ id: ElementID) throws(OperatorRefusal) -> [ElementID] {
        let parentID = try runningParent(of: id)
        if heldBy(id) != nil { throw .alreadyStopped(name(of: id)) }
        let affected = affectedSiblings(of: id, in: node(parentID)).filter { sibling in
            heldBy(sibling) == nil && !haltedElements.contains(sibling)
        }
        let affectedSet = Set(affected)
        for sibling in affected { setHeld(sibling, by: id) }
        modifyNode(parentID) { node in
            // Pending starts of what is now held would be skipped anyway; a pending restart's
            // stop of them is the same as this one.
            node.plan.removeAll { affectedSet.contains($0.subject) }
            if let current = node.current, !node.currentBegun, affectedSet.contains(current.subject) {
                node.current = nil
            }
            node.plan += affected.reversed().map { Step.stop($0) }
        }
        pendingNodes.append(parentID)
        actions.append(.notice(.heldStopped(child: name(of: id), tied: affected.filter { $0 != id }.map { name(of: $0) })))
        return affected
    }

    /// `start`: releases the child and, if the operator named it when stopping, what was held with
    /// it, and starts them in order. - Returns: those, in start order.
    private mutating func requestStart(_ id: ElementID) throws(OperatorRefusal) -> [ElementID] {
        guard let parentID = parent(of: id) else { throw .isRoot }
        guard let holder = heldBy(id) else { throw .notStopped(name(of: id)) }
        // Held with a sibling's stop (a later stage of its chain): it starts with that sibling,
        // never alone before it.
        guard holder == id else { throw .stoppedWith(name(of: id), holder: name(of: holder)) }
        guard !isShuttingDown else { throw .shuttingDown }
        let parentNode = node(parentID)
        guard parentNode.mode == .running || parentNode.mode == .starting else {
            throw .nodeNotRunning(child: name(of: id), node: parentNode.spec.name)
        }
        let released = parentNode.children.filter { $0 == id || heldBy($0) == id }
        for child in released {
            setHeld(child, by: nil)
            if case .worker = elements[child] { modifyWorker(child) { $0.consecutiveRestarts = 0 } }
        }
        let now = self.now
        modifyNode(parentID) { node in
            node.plan.removeAll { released.contains($0.subject) }
            node.plan += released.map { Step.start($0, notBefore: now) }
        }
        pendingNodes.append(parentID)
        actions.append(.notice(.releasedStopped(children: released.map { name(of: $0) })))
        return released
    }
}

extension StatusEntry {
    /// The entry named `name` in this subtree.
    func find(id name: String) -> StatusEntry? {
        if self.name == name { return self }
        for child in children { if let found = child.find(id: name) { return found } }
        return nil
    }
}
