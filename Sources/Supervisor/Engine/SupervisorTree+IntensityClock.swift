/// The clock restart intensity runs on, and the bracket every input of the tree goes through.
///
/// OTP has no restart backoff: a crash loop restarts as fast as it fails, so `intensity`
/// restarts within `period` is reached in moments. With a capped backoff (30 s by default) the
/// restarts of a child that fails on every start drift wider than any period, no window ever
/// holds more than a few, and the node would retry for ever without giving up. So the time a
/// node spends waiting out a backoff — its own children's, or a node's below it (whose give-up
/// is this node's restart) — does not count towards its period: intensity counts restarts per
/// period of *trying*, and backoff only spaces the tries out. A child that fails on every
/// start makes its node give up after `intensity + 1` failures, within the sum of the first
/// `intensity` backoff delays (at most `intensity × backoff.max`) plus the time those starts took.
extension SupervisorTree {
    /// Starts handling an input at `now`: the time since the previous input is charged to every
    /// node that was waiting out a backoff meanwhile.
    mutating func begin(at now: Duration) {
        let elapsed = now - self.now
        if elapsed > .zero {
            for id in elements.indices {
                guard case .node(var node) = elements[id], node.isWaitingOutBackoff else { continue }
                node.backoffWaited += elapsed
                elements[id] = .node(node)
            }
        }
        self.now = now
        actions = []
    }

    /// Finishes handling an input: works through the nodes' plans, notes which nodes now wait out
    /// a backoff, and returns the actions to carry out.
    mutating func end() -> [TreeAction] {
        drainPendingNodes()
        markBackoffWaits()
        answerPendingRequests()
        return actions
    }

    /// The clock `id`'s restart intensity runs on: monotonic time less the time the node, or a
    /// node below it, spent waiting out a restart backoff. Never goes backwards.
    func intensityClock(of id: ElementID) -> Duration {
        intensityClock(of: id, at: now)
    }

    /// The same clock read at `time` (at or after the last input), for a status snapshot.
    func intensityClock(of id: ElementID, at time: Duration) -> Duration {
        let node = self.node(id)
        let waitingSinceLastInput = node.isWaitingOutBackoff ? max(.zero, time - now) : .zero
        return time - node.backoffWaited - waitingSinceLastInput
    }

    /// A node waits out a backoff when its current step is a start whose time has not come, or
    /// when a node below it does.
    private mutating func markBackoffWaits() {
        // Preorder: a node's children come after it, so one backward pass sees them first.
        var waiting = [Bool](repeating: false, count: elements.count)
        for id in elements.indices.reversed() {
            guard case .node(var node) = elements[id] else { continue }
            var isWaiting = node.children.contains { waiting[$0] }
            if let current = node.current, !node.currentBegun, case .start(_, let notBefore) = current, notBefore > now {
                isWaiting = true
            }
            waiting[id] = isWaiting
            if node.isWaitingOutBackoff != isWaiting {
                node.isWaitingOutBackoff = isWaiting
                elements[id] = .node(node)
            }
        }
    }
}
