import Wire
import Posix

/// The root's side of systemd's notification protocol: the loop's hooks feed what they see to
/// `SystemdNotifier`, which decides and sends. Every hook is a no-op when not under systemd.
extension SupervisorRuntime {
    /// After every turn of the loop: READY, STATUS, WATCHDOG and STOPPING as they fall due.
    func notifySystemd() {
        guard systemd.isEnabled else { return }
        let now = Posix.monotonicNow()
        // An orderly shutdown by any cause: `cidp stop`, a signal, a worker's stop request or a
        // halt ending a job (all through the tree's shutdown), the root giving up, or the run over.
        let isStopping = tree.isShuttingDownNow || systemd.hasRootGivenUp || outcome != nil
        systemd.update(now: now, isReady: systemd.hasTreeBeenReady, isStopping: isStopping) {
            SystemdNotifications.statusLine(tree: tree.snapshot(now: now), load: systemd.load)
        }
    }

    /// The tree's notices that matter to systemd: ready, and the root giving up.
    func observeForSystemd(_ notice: TreeNotice) {
        switch notice {
        case .treeReady: systemd.hasTreeBeenReady = true
        case .gaveUp(let node, _) where node == policy.root.name: systemd.hasRootGivenUp = true
        default: break
        }
    }

    /// Keeps the warehouse's progress for the status line: the batch committed last and the rows
    /// loaded, from whichever worker reports `committed_batch` or `rows_loaded` (the loader).
    func noteProgressForSystemd(_ progress: ControlMessage.Progress, of id: ElementID) {
        guard systemd.isEnabled else { return }
        let batch = progress.counters["committed_batch"]
        let rows = progress.counters["rows_loaded"]
        guard batch != nil || rows != nil else { return }
        systemd.load = SystemdNotifications.LoadProgress(worker: tree.name(of: id), committedBatch: batch, rowsLoaded: rows)
    }

    /// The wait before the loop's next turn must end by the next watchdog ping or status check,
    /// by the next idle control client's timeout, and by the console's next redraw or progress check.
    func earliestDeadline() -> Duration? {
        [tree.nextDeadline(), systemd.nextDeadline, nextIdleDeadline(), nextConsoleDeadline].compactMap { $0 }.min()
    }
}
