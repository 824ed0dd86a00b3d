/// `cidp upgrade`: one worker at a time, replaced by a process of a new binary on the same
/// channels. The worker is stopped as a plan stop (SIGTERM: it finishes its current batch and
/// commits or hands it on), its executable replaced, and started again; it must become
/// ready within its readiness timeout. If the new binary does not (it exits, cannot be spawned,
/// or stays silent), the previous executable is put back and started at once — a rollback, charged
/// to no restart intensity — and the request fails naming the worker and the cause.
extension SupervisorTree {
    /// Checks and begins the upgrade of `id` to `executable` (nil: the path it runs from, which
    /// now holds the new binary). - Returns: the worker.
    mutating func requestUpgrade(_ id: ElementID, executable: String?, ticket: Int) throws(OperatorRefusal) -> [ElementID] {
        guard isWorker(id) else { throw .notAWorker(name(of: id)) }
        let parentID = try runningParent(of: id)
        if let holder = heldBy(id) {
            throw holder == id ? .heldStopped(name(of: id)) : .stoppedWith(name(of: id), holder: name(of: holder))
        }
        guard case .running = worker(id).phase else { throw .notRunning(name(of: id)) }
        let previous = worker(id).spec.executable
        modifyWorker(id) { worker in
            worker.upgrade = Upgrade(ticket: ticket, previousExecutable: previous)
            if let executable { worker.spec.executable = executable }
        }
        let now = self.now
        modifyNode(parentID) { node in
            node.plan.removeAll { $0.subject == id }
            node.plan += [.stop(id), .start(id, notBefore: now)]
            node.disposition = .restarting
        }
        pendingNodes.append(parentID)
        return [id]
    }

    /// The new binary of an upgrade did not start: the previous executable goes back and starts now.
    mutating func rollBack(_ id: ElementID, _ upgrade: Upgrade, reason: String) {
        let parentID = parent(of: id)!
        modifyWorker(id) { worker in
            worker.spec.executable = upgrade.previousExecutable
            worker.upgrade = nil
            if worker.pid == nil { worker.phase = .restarting }
        }
        rolledBack[upgrade.ticket] = reason
        actions.append(.notice(.upgradeRolledBack(worker: name(of: id), reason: reason)))
        let now = self.now
        modifyNode(parentID) { node in
            if case .start(id, _)? = node.current { node.current = nil; node.currentBegun = false }
            node.plan.removeAll { $0.subject == id }
            node.plan.insert(.start(id, notBefore: now), at: 0)
        }
        pendingNodes.append(parentID)
    }

    /// Nil while the upgrade of `id` (request `ticket`) is under way; its answer once done.
    func upgradeProgress(of id: ElementID, ticket: Int) -> OperatorAnswer? {
        guard let parentID = parent(of: id), isIdle(parentID) else { return nil }
        let worker = self.worker(id)
        guard worker.upgrade == nil, case .running(let pid, _) = worker.phase else {
            if worker.upgrade == nil, worker.pid == nil, !isIdle(parentID) { return nil }
            if case .starting = worker.phase { return nil }
            return .failed("'\(worker.spec.name)' is \(snapshot(now: now).find(id: worker.spec.name)?.state ?? "down") after its upgrade")
        }
        if let reason = rolledBack[ticket] {
            return .failed("'\(worker.spec.name)' did not become ready on the new binary (\(reason)); rolled back: "
                + "the previous binary runs again, pid \(pid)")
        }
        return .done("upgraded '\(worker.spec.name)' (running, pid \(pid), build \(worker.build ?? "not reported"))")
    }
}
