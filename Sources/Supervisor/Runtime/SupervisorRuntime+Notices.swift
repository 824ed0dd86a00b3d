import Logging

extension SupervisorRuntime {
    /// One structured log entry per tree transition: constant message, data in metadata.
    func log(_ notice: TreeNotice) {
        switch notice {
        case .spawned(let worker, let pid, let attempt):
            logger.info("Worker spawned", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)", "worker.start": "\(attempt)"])
        case .ready(let worker, let pid, let after):
            logger.info("Worker ready", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)", "ready.ms": "\(after.milliseconds)"])
        case .exited(let worker, let pid, let status, let expected):
            logger.log(level: expected ? .info : .error, expected ? "Worker exited" : "Worker exited unexpectedly",
                       metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)", "exit.status": "\(status)"])
        case .startFailed(let worker, let reason):
            logger.error("Worker failed to start", metadata: ["worker.name": "\(worker)", "reason": "\(reason)"])
        case .restartScheduled(let child, let delay, let restarts, let item):
            var metadata: Logger.Metadata = ["child.id": "\(child)", "backoff.ms": "\(delay.milliseconds)", "restarts.in_period": "\(restarts)"]
            // What the worker was working on when it went down: an operator can follow a batch through the logs.
            if let item { metadata["item"] = "\(item)" }
            logger.notice("Child restarting", metadata: metadata)
        case .stopping(let worker, let pid, let signal):
            logger.info("Stopping worker", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)", "signal": "\(ExitStatus.signalName(signal))"])
        case .shutdownTimeout(let worker, let pid):
            logger.warning("Worker ignored SIGTERM past its shutdown timeout; killing it", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)"])
        case .watchdogExpired(let worker, let pid, let silent):
            logger.error("Watchdog expired: worker hung; killing it", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)", "silent.ms": "\(silent.milliseconds)"])
        case .readinessTimeout(let worker, let pid):
            logger.error("Worker not ready in time; killing it", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)"])
        case .healthChanged(let worker, let pid, let degraded):
            if let degraded {
                logger.warning("Worker degraded", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)", "reason": "\(degraded)"])
            } else {
                logger.notice("Worker healthy again", metadata: ["worker.name": "\(worker)", "worker.pid": "\(pid)"])
            }
        case .notRestarted(let child, let why):
            logger.notice("Child not restarted", metadata: ["child.id": "\(child)", "reason": "\(why)"])
        case .gaveUp(let node, let reason):
            logger.critical("Restart intensity reached; node gives up", metadata: ["node.name": "\(node)", "reason": "\(reason)"])
        case .intensityExceeded(let node, let reason):
            logger.error("Restart intensity exceeded; the node keeps retrying (intensity_exceeded = keep_retrying)",
                         metadata: ["node.name": "\(node)", "reason": "\(reason)"])
        case .jobDone(let worker):
            logger.notice("Job done; stopping the tree", metadata: ["worker.name": "\(worker)"])
        case .halted(let node, let worker, let reason):
            logger.warning("Chain halted by an integrity gate", metadata: [
                "event": "halted", "node": "\(node)", "worker": "\(worker)", "reason": "\(reason)",
            ])
        case .heldStopped(let child, let tied):
            logger.notice("Stopped by the operator and held stopped", metadata: [
                "child.id": "\(child)", "tied": "\(tied.joined(separator: ","))",
            ])
        case .releasedStopped(let children):
            logger.notice("Started again by the operator", metadata: ["children": "\(children.joined(separator: ","))"])
        case .upgradeRolledBack(let worker, let reason):
            logger.error("Upgrade rolled back: the new binary did not become ready; the previous one starts again", metadata: [
                "event": "upgrade_rolled_back", "worker.name": "\(worker)", "reason": "\(reason)",
            ])
        case .reloaded(let plan):
            logger.notice("Policy reloaded", metadata: ["event": "reloaded", "plan": "\(plan)"])
        case .resumed(let node):
            logger.notice("Halted chain resumed", metadata: ["event": "resumed", "node": "\(node)"])
        case .poisonPill(let worker, let item, let crashes):
            logger.warning("Poison pill: the worker keeps crashing on one item; its next start is told", metadata: [
                "event": "poison_pill", "worker": "\(worker)", "item": "\(item)", "crashes": "\(crashes)",
            ])
        case .treeReady(let after):
            logger.notice("Supervision tree ready", metadata: ["ready.ms": "\(after.milliseconds)"])
        case .strayProcessReaped(let pid, let status):
            logger.warning("Reaped a process left behind by a worker", metadata: ["pid": "\(pid)", "exit.status": "\(status)"])
        }
    }
}
