/// A policy reload (`cidp reload`, SIGHUP): the difference between the running tree and a new
/// root spec, and its application. Only what changed is touched: a worker added starts in its
/// place, a worker removed stops, a worker whose spec changed is restarted with the new spec (that
/// worker alone: a reload is not a failure, so no strategy ties its siblings to it), a node whose
/// settings changed takes them without restarting its children; everything else keeps its pid.
///
/// Refused, with the reason and nothing changed: a change to the data channels' wiring (a
/// running chain's channels are made once, at start), an element that changes kind or moves to
/// another node, a new order of a running node's children, and any reload while the tree stops.

/// One change a reload applies.
public enum ReloadChange: Sendable, Equatable, CustomStringConvertible {
    /// A worker or node added to `node`: starts in its place in the order.
    case add(String, kind: StatusEntry.Kind, node: String)
    /// A worker or node removed from `node`: stops, and is gone from the tree.
    case remove(String, kind: StatusEntry.Kind, node: String)
    /// A live worker whose spec changed: restarted with the new spec. `fields` names what changed.
    case restart(String, fields: [String])
    /// A worker that is not running (held, halted, given up, waiting out a backoff) whose spec
    /// changed: its next start uses the new spec.
    case respec(String, fields: [String])
    /// A node whose settings changed: takes them; its children keep running.
    case retune(String, fields: [String])

    public var description: String {
        switch self {
        case .add(let name, let kind, let node): return "add \(kind.rawValue) '\(name)' to '\(node)'"
        case .remove(let name, let kind, let node): return "remove \(kind.rawValue) '\(name)' from '\(node)'"
        case .restart(let name, let fields): return "restart '\(name)' with its new \(fields.joined(separator: ", "))"
        case .respec(let name, let fields):
            return "'\(name)' (not running) takes its new \(fields.joined(separator: ", ")) at its next start"
        case .retune(let name, let fields):
            return "node '\(name)' takes its new \(fields.joined(separator: ", ")) (its children keep running)"
        }
    }
}

/// What a reload would do, in tree order.
public struct ReloadPlan: Sendable, Equatable {
    public var changes: [ReloadChange] = []

    public var isEmpty: Bool { changes.isEmpty }

    /// One line: `nothing changed`, or the changes separated by `; `.
    public var text: String {
        isEmpty ? "nothing changed" : changes.map(\.description).joined(separator: "; ")
    }
}

extension SupervisorTree {
    /// The changes a reload computes, with the elements they act on.
    struct ReloadOperations {
        var plan = ReloadPlan()
        var retunes: [(ElementID, NodeSpec)] = []
        var respecs: [(ElementID, ChildSpec, restarts: Bool)] = []
        var adds: [(parent: ElementID, spec: TreeSpec)] = []
        var removes: [ElementID] = []
        /// Each touched node's children, by name, in the new order.
        var orders: [(ElementID, [String])] = []
    }

    /// What reloading `newRoot` would change, without changing anything (`cidp reload --dry-run`).
    public func reloadPlan(for newRoot: NodeSpec) throws(OperatorRefusal) -> ReloadPlan {
        try reloadOperations(for: newRoot).plan
    }

    func reloadOperations(for newRoot: NodeSpec) throws(OperatorRefusal) -> ReloadOperations {
        guard !isShuttingDown else { throw .shuttingDown }
        let live = liveWiring()
        let wanted = Dictionary(newRoot.workers.map { ($0.name, $0.input) }, uniquingKeysWith: { first, _ in first })
        let changedWiring = Set(live.keys).union(wanted.keys).sorted().filter { name in
            // A worker with no channel on either side may come and go.
            let before = live[name] ?? nil, after = wanted[name] ?? nil
            let feedsBefore = live.values.contains(name), feedsAfter = wanted.values.contains(name)
            return before != after || feedsBefore != feedsAfter
        }
        if let name = changedWiring.first {
            throw .cannotReload("the data channel wiring of '\(name)' would change; a running chain's channels "
                + "are made at start: stop the tree and start it with the new policy")
        }
        var operations = ReloadOperations()
        try diff(Self.rootID, against: newRoot, into: &operations)
        return operations
    }

    /// The live workers' names and inputs.
    private func liveWiring() -> [String: String?] {
        var wiring: [String: String?] = [:]
        for id in elements.indices where !retired.contains(id) {
            if case .worker(let worker) = elements[id] { wiring[worker.spec.name] = .some(worker.spec.input) }
        }
        return wiring
    }

    private func diff(_ id: ElementID, against new: NodeSpec, into operations: inout ReloadOperations) throws(OperatorRefusal) {
        let old = node(id)
        let fields = Self.changedFields(old.spec, new)
        if !fields.isEmpty {
            operations.retunes.append((id, new))
            operations.plan.changes.append(.retune(new.name, fields: fields))
        }
        let oldNames = old.children.map { name(of: $0) }
        let newNames = new.children.map(\.name)
        let kept = oldNames.filter(newNames.contains)
        guard kept == newNames.filter(oldNames.contains) else {
            throw .cannotReload("the order of the children of '\(old.spec.name)' would change (\(kept.joined(separator: ", ")) "
                + "→ \(newNames.filter(oldNames.contains).joined(separator: ", "))); a running node's start order is fixed")
        }
        var touched = false
        for childID in old.children where !newNames.contains(name(of: childID)) {
            operations.removes.append(childID)
            operations.plan.changes.append(.remove(name(of: childID), kind: isWorker(childID) ? .worker : .node, node: old.spec.name))
            touched = true
        }
        for child in new.children {
            guard let childID = old.children.first(where: { name(of: $0) == child.name }) else {
                if let elsewhere = elementID(named: child.name) {
                    throw .cannotReload("'\(child.name)' would move from '\(name(of: parent(of: elsewhere) ?? Self.rootID))' "
                        + "to '\(new.name)'; remove it in one reload and add it in another")
                }
                operations.adds.append((id, child))
                let kind: StatusEntry.Kind
                if case .worker = child { kind = .worker } else { kind = .node }
                operations.plan.changes.append(.add(child.name, kind: kind, node: new.name))
                touched = true
                continue
            }
            switch (elements[childID], child) {
            case (.worker(let worker), .worker(let spec)):
                let fields = Self.changedFields(worker.spec, spec)
                guard !fields.isEmpty else { continue }
                let restarts = worker.pid != nil || isSpawning(childID)
                operations.respecs.append((childID, spec, restarts: restarts))
                operations.plan.changes.append(restarts ? .restart(spec.name, fields: fields) : .respec(spec.name, fields: fields))
            case (.node, .node(let spec)):
                try diff(childID, against: spec, into: &operations)
            default:
                throw .cannotReload("'\(child.name)' would change from a \(isWorker(childID) ? "worker" : "node") to a "
                    + "\(isWorker(childID) ? "node" : "worker"); remove it in one reload and add it in another")
            }
        }
        if touched { operations.orders.append((id, newNames)) }
    }

    private func isSpawning(_ id: ElementID) -> Bool {
        if case .spawning = worker(id).phase { return true }
        return false
    }

    /// The policy's names for the fields of a worker spec that differ.
    static func changedFields(_ old: ChildSpec, _ new: ChildSpec) -> [String] {
        var fields: [String] = []
        if old.role != new.role { fields.append("role") }
        if old.executable != new.executable { fields.append("executable") }
        if old.arguments != new.arguments { fields.append("settings") }
        if old.environment != new.environment { fields.append("environment") }
        if old.memoryLimit != new.memoryLimit { fields.append("memory limit") }
        if old.restart != new.restart { fields.append("restart type") }
        if old.shutdown != new.shutdown { fields.append("shutdown") }
        if old.readinessTimeout != new.readinessTimeout { fields.append("readiness timeout") }
        if old.watchdog != new.watchdog { fields.append("watchdog") }
        if old.backoff != new.backoff { fields.append("backoff") }
        if old.poisonPillCrashes != new.poisonPillCrashes { fields.append("poison_pill_crashes") }
        return fields
    }

    /// The policy's names for a node's settings that differ (its children aside).
    static func changedFields(_ old: NodeSpec, _ new: NodeSpec) -> [String] {
        var fields: [String] = []
        if old.strategy != new.strategy { fields.append("strategy") }
        if old.intensity != new.intensity { fields.append("intensity") }
        if old.period != new.period { fields.append("period") }
        if old.onIntensityExceeded != new.onIntensityExceeded { fields.append("intensity_exceeded") }
        return fields
    }

    /// `reload`: applies the difference. - Returns: the nodes whose plans carry it out (the
    /// request is done once they are idle).
    mutating func requestReload(_ newRoot: NodeSpec) throws(OperatorRefusal) -> [ElementID] {
        let operations = try reloadOperations(for: newRoot)
        var nodes: Set<ElementID> = []
        let now = self.now
        for (id, spec) in operations.retunes {
            modifyNode(id) { node in
                node.spec = spec
                node.intensity.retune(intensity: spec.intensity, period: spec.period)
            }
        }
        for (id, spec, restarts) in operations.respecs {
            modifyWorker(id) { $0.spec = spec }
            guard restarts, let parentID = parent(of: id) else { continue }
            modifyNode(parentID) { node in
                node.plan.removeAll { $0.subject == id }
                node.plan += [.stop(id), .start(id, notBefore: now)]
                node.disposition = .restarting
            }
            nodes.insert(parentID)
        }
        for id in operations.removes {
            guard let parentID = parent(of: id) else { continue }
            retire(id)
            modifyNode(parentID) { node in
                node.plan.removeAll { $0.subject == id }
                node.plan.append(.stop(id))
            }
            nodes.insert(parentID)
        }
        for (parentID, spec) in operations.adds {
            let id = add(spec, parent: parentID)
            let parentNode = node(parentID)
            if (parentNode.mode == .running || parentNode.mode == .starting), !isUnderHold(parentID) {
                modifyNode(parentID) { $0.plan.append(.start(id, notBefore: now)) }
                nodes.insert(parentID)
            }
        }
        for (id, order) in operations.orders {
            let children = order.compactMap { name in
                elements.indices.last { !retired.contains($0) && parent(of: $0) == id && self.name(of: $0) == name }
            }
            modifyNode(id) { $0.children = children }
        }
        pendingNodes += nodes.sorted()
        actions.append(.notice(.reloaded(plan: operations.plan.text)))
        return nodes.sorted()
    }

    /// Takes `id` and everything under it out of the tree: no name lookup finds it again.
    private mutating func retire(_ id: ElementID) {
        retired.insert(id)
        if case .node(let node) = elements[id] {
            for child in node.children { retire(child) }
        }
    }
}
