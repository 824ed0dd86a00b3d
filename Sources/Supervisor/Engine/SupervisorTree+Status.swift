/// A point-in-time view of one element of the tree, for `cidp status`.
public struct StatusEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case node, worker }

    public var name: String
    public var kind: Kind
    /// starting, running, degraded, restarting, stopping, stopped, halted, failed. A node is
    /// degraded when its intensity was exceeded and its policy keeps it retrying.
    public var state: String
    public var pid: Int32?
    public var restarts: Int
    public var uptime: Duration?
    /// Why the element is degraded, failed or halted, when it is.
    public var reason: String?
    /// For a halted element: the worker whose integrity gate halted it.
    public var haltedBy: String?
    /// For nodes: the strategy; for workers: the restart type.
    public var detail: String
    public var children: [StatusEntry]
    /// For a worker: the build its live incarnation runs (`BuildInfo.short`), when it said.
    public var build: String? = nil
    /// For workers: how its previous incarnation ended and the last error line it printed
    /// (`signal SIGKILL: HTTP 404 from …`), kept while the next one runs; nil before any exit.
    public var lastExit: String? = nil
}

extension SupervisorTree {
    /// The whole tree as status entries.
    public func snapshot(now: Duration) -> StatusEntry {
        entry(for: Self.rootID, now: now)
    }

    private func entry(for id: ElementID, now: Duration) -> StatusEntry {
        switch elements[id] {
        case .worker(let worker):
            var state: String
            var reason: String?
            var uptime: Duration?
            switch worker.phase {
            case .idle, .stopped: state = "stopped"
            case .spawning, .starting: state = "starting"
            case .running(_, let degraded):
                state = degraded == nil ? "running" : "degraded"
                reason = degraded
                uptime = worker.readyAt.map { now - $0 }
            case .stopping: state = "stopping"
            case .restarting: state = "restarting"
            case .failed: state = "failed"
            case .halted: state = "halted"
            }
            var haltedBy: String?
            if state == "halted", let halt = haltHolding(id) {
                reason = halt.reason
                haltedBy = halt.by
            }
            if let holder = worker.heldBy, state == "stopped" {
                reason = "stopped by the operator; 'cidp start \(self.name(of: holder))' starts it again"
            }
            if reason == nil, state != "running", let exit = worker.lastExit {
                reason = "last \(exit)" + (worker.lastError.map { ": " + $0 } ?? "")
            }
            return StatusEntry(name: worker.spec.name, kind: .worker, state: state, pid: worker.pid,
                               restarts: max(0, worker.starts - 1), uptime: uptime, reason: reason,
                               haltedBy: haltedBy, detail: worker.spec.restart.rawValue, children: [],
                               build: worker.pid == nil ? nil : worker.build,
                               lastExit: worker.lastExit.map { "\($0)" + (worker.lastError.map { ": " + $0 } ?? "") })
        case .node(let node):
            var reason: String?
            var haltedBy: String?
            var state: String
            switch node.mode {
            case .idle, .stopped: state = "stopped"
            case .starting: state = "starting"
            case .running: state = "running"
            case .stopping, .givingUp: state = "stopping"
            case .failed(let why): state = "failed"; reason = why
            case .halted: state = "halted"
            }
            if let holder = node.heldBy, state == "stopped" {
                reason = "stopped by the operator; 'cidp start \(self.name(of: holder))' starts it again"
            }
            // Kept retrying past its intensity (`keep_retrying`): degraded while restarts still
            // come within the period, so it never loops out of sight.
            if let trouble = node.trouble, state == "running" || state == "starting",
               let latest = node.intensity.latest, intensityClock(of: id, at: now) - latest <= node.spec.period {
                state = "degraded"
                reason = trouble
            }
            // A node inside a halted node is held down with it.
            if state == "halted" || state == "stopped", let halt = haltHolding(id) {
                state = "halted"
                reason = halt.reason
                haltedBy = halt.by
            }
            return StatusEntry(name: node.spec.name, kind: .node, state: state, pid: nil,
                               restarts: max(0, node.starts - 1),
                               uptime: node.mode == .running ? node.startedAt.map { now - $0 } : nil,
                               reason: reason, haltedBy: haltedBy, detail: node.spec.strategy.rawValue,
                               children: node.children.map { entry(for: $0, now: now) })
        }
    }
}
