import Posix
import Foundation
import Supervisor
import Workers

/// "Deadlock DataBase Test": another connection holds the warehouse's write lock (`BEGIN
/// EXCLUSIVE`) for longer than a batch takes, mid-run. The loader must wait it out visibly
/// (`degraded`), crash nothing, and load every row once the lock is released.
public struct DeadlockDrill: Drill {
    public static let name = "deadlock"
    public static let scenario = "the warehouse locked from outside (BEGIN EXCLUSIVE) for 5 s mid-run"
    /// How long the outside connection holds the lock: many batches' worth.
    static let lockDuration: Duration = .seconds(5)

    public init() {}

    public func run(_ context: DrillContext, report: inout DrillReport) throws {
        let loader = context.policy.name(of: .loader)
        let page = Int64(context.policy.pageSize)
        let tree = try context.startTree(context.followOptions)
        let lockAt = max(2 * page, Int64(context.records / 8))
        guard let before = context.waitUnderWay(tree, rows: lockAt, report: &report) else { return }

        // The scenario: an operator's tool takes the write lock, waiting for the loader's
        // current transaction like any client would, and keeps it.
        context.note("locking the warehouse for \(Self.lockDuration.formattedSeconds)")
        var database: Database? = try Database(path: context.sandbox.databasePath, busyTimeout: .seconds(30))
        do {
            try database?.execute("BEGIN EXCLUSIVE")
        } catch {
            report.check("lock taken", false, expected: "BEGIN EXCLUSIVE on the warehouse", observed: "\(error)")
            _ = tree.stop(timeout: context.patience)
            return
        }
        let lockedAt = ContinuousClock.now
        let rowsAtLock = tree.rowsLoaded()
        var degraded: (after: Duration, reason: String)?
        var statesSeen: [String] = []
        while ContinuousClock.now - lockedAt < Self.lockDuration {
            if let state = tree.element(loader) {
                if statesSeen.last != state.state { statesSeen.append(state.state) }
                if degraded == nil, state.state == "degraded" {
                    degraded = (ContinuousClock.now - lockedAt, state.reason ?? "no reason given")
                }
            }
            Posix.sleep(for: .milliseconds(50))
        }
        let rowsAtRelease = tree.rowsLoaded()
        let held = ContinuousClock.now - lockedAt
        try? database?.execute("COMMIT")
        database = nil
        context.note("released the lock after \(held.formattedSeconds)")

        report.check("lock held", rowsAtRelease == rowsAtLock,
                     expected: "no commit while BEGIN EXCLUSIVE is held (\(Self.lockDuration.formattedSeconds), from ≥ \(lockAt) rows)",
                     observed: "held \(held.formattedSeconds); rows \(rowsAtLock) at lock, \(rowsAtRelease) at release")
        report.check("loader degraded while locked", degraded.map { $0.reason.contains("locked") } ?? false,
                     expected: "'\(loader)' degraded in status (warehouse locked)",
                     observed: degraded.map { "degraded after \($0.after.formattedSeconds): \($0.reason)" }
                        ?? "states seen: \(statesSeen.joined(separator: " → "))")

        // After the release the chain catches up: more rows than the lock held back, the loader running.
        let target = max(Int64(context.records), rowsAtRelease + 2 * page)
        var loaderState = "?"
        let recovered = Deadline.poll(timeout: context.patience, every: .milliseconds(100)) {
            loaderState = tree.element(loader)?.state ?? "not answering"
            return (loaderState == "running" && tree.rowsLoaded() >= target) || !tree.isRunning
        } && tree.isRunning
        let rowsAfter = tree.rowsLoaded()
        report.check("loader recovered", recovered,
                     expected: "'\(loader)' running again and ≥ \(target) rows", observed: "\(loaderState); \(rowsAfter) rows")
        let after = tree.pids()
        let restarts = (tree.status()?.workers ?? []).filter { $0.restarts > 0 }.map { "\($0.name) \($0.restarts)" }
        let pids = DrillContext.comparePIDs(before, after)
        let crash = SupervisorLog(directory: context.sandbox.logDirectory).firstUnexpectedExit()
        report.check("no worker crashed", pids.changed.isEmpty && restarts.isEmpty,
                     expected: "every worker keeps its pid, 0 restarts",
                     observed: pids.text + (restarts.isEmpty ? "; 0 restarts" : "; restarts: " + restarts.joined(separator: ", "))
                        + (crash.map { "; first crash: \($0)" } ?? ""))

        let ending = tree.stop(timeout: context.patience)
        context.checkExit(ending, expected: 0, how: "after cidp stop", tree: tree, report: &report)
        let consumed = context.consumedRecords() ?? -1
        let rows = context.checkFactTable(count: max(0, consumed), report: &report)
        report.keyEvidence = [
            "locked \(held.formattedSeconds)",
            degraded.map { "loader degraded after \($0.after.formattedSeconds)" } ?? "loader never degraded",
            pids.changed.isEmpty ? "pids unchanged" : "pids changed: \(pids.changed.joined(separator: ","))",
            "\(rows) rows",
        ]
    }
}
