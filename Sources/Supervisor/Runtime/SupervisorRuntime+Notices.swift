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
        case .restartScheduled(let child, let delay, let restarts):
            logger.notice("Child restarting", metadata: ["child.id": "\(child)", "backoff.ms": "\(delay.milliseconds)", "restarts.in_period": "\(restarts)"])
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
        case .treeReady(let after):
            logger.notice("Supervision tree ready", metadata: ["ready.ms": "\(after.milliseconds)"])
        case .strayProcessReaped(let pid, let status):
            logger.warning("Reaped a process left behind by a worker", metadata: ["pid": "\(pid)", "exit.status": "\(status)"])
        }
    }
}
