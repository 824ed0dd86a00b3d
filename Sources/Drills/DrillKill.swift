import Foundation
import Posix
import PortableRandom
import Supervisor
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Crashes: `kill -9` of the pipeline's workers at seeded moments of a `--follow` run. Every
/// killed worker must come back, and the finished table must equal the crash-free reference
/// exactly (DESIGN.md invariant 1, exactly once).
public struct KillDrill: Drill {
    public static let name = "kill"
    public static let scenario = "kill -9 of sensor-sim, extractor, transformer and loader at seeded moments of a --follow run"
    /// Each role once, then this many more picked by the seed. Six kills stay within the default
    /// policy's restart intensities (etl: 5 a minute, root: 3 a minute), whichever roles are picked.
    static let extraKills = 2
    static let roles: [WorkerRole] = [.sensorSim, .extractor, .transformer, .loader]

    /// One `kill -9`: the worker, the pid killed, the pid that replaced it.
    struct Kill {
        var name: String
        var atRows: Int64
        var pid: Int32
        var newPID: Int32?

        var description: String {
            "\(name) \(pid)→\(newPID.map(String.init) ?? "none") at \(atRows) rows"
        }
    }

    /// The seeded plan: which worker, at how many committed rows (within `rows`).
    static func plan(seed: UInt64, names: [String], rows: Range<Int>) -> [(name: String, atRows: Int64)] {
        var random = SplitMix64(seed: seed, stream: 0x4B11, index: 0)
        var names = names
        for _ in 0..<extraKills { names.append(names[random.nextIndex(below: names.count)]) }
        random.shuffle(&names)
        let moments = names.map { _ in Int64(rows.lowerBound + random.nextIndex(below: rows.count)) }.sorted()
        return Array(zip(names, moments)).map { (name: $0.0, atRows: $0.1) }
    }

    public init() {}

    public func run(_ context: DrillContext, report: inout DrillReport) throws {
        let page = Int64(context.policy.pageSize)
        // While the source grows: past what it starts with, before `--records`.
        let first = context.followInitialRecords + context.policy.pageSize
        let plan = Self.plan(seed: context.seed, names: Self.roles.map(context.policy.name(of:)),
                             rows: first..<max(first + 1, context.records * 17 / 20))
        let tree = try context.startTree(context.followOptions)
        guard context.waitUnderWay(tree, rows: plan[0].atRows, report: &report) != nil else { return }
        var kills: [Kill] = []
        var misses: [String] = []
        for step in plan {
            guard tree.waitForRows(step.atRows, timeout: context.patience) else {
                misses.append("\(step.name): \(step.atRows) rows never reached (\(tree.rowsLoaded()))")
                break
            }
            // Kill the worker's running process; one being restarted (rest_for_one takes later
            // siblings down too) is waited for, and its successor killed.
            var target: Int32?
            Deadline.poll(timeout: .seconds(30)) {
                guard let element = tree.element(step.name), element.state == "running" || element.state == "degraded",
                      let pid = element.pid else { return !tree.isRunning }
                if Posix.signal(pid, SIGKILL) == .delivered { target = pid }
                return target != nil
            }
            guard let pid = target else {
                misses.append("\(step.name): never seen running to kill")
                continue
            }
            var landed = Kill(name: step.name, atRows: tree.rowsLoaded(), pid: pid)
            context.note("kill -9 \(step.name) pid \(pid)")
            Deadline.poll(timeout: .seconds(60)) {
                guard let element = tree.element(step.name) else { return !tree.isRunning }
                if element.state == "running" || element.state == "degraded", let new = element.pid, new != pid {
                    landed.newPID = new
                    return true
                }
                return false
            }
            kills.append(landed)
        }
        report.check("kills landed", kills.count == plan.count && misses.isEmpty,
                     expected: "\(plan.count) kill -9s: " + plan.map { "\($0.name) at ≥\($0.atRows) rows" }.joined(separator: ", "),
                     observed: kills.map(\.description).joined(separator: ", ")
                        + (misses.isEmpty ? "" : "; missed: " + misses.joined(separator: "; ")))
        let unrestarted = kills.filter { $0.newPID == nil }
        report.check("killed workers restarted", !kills.isEmpty && unrestarted.isEmpty,
                     expected: "each killed worker running again with a new pid",
                     observed: unrestarted.isEmpty ? "\(kills.count) of \(kills.count) restarted"
                        : "not restarted: " + unrestarted.map(\.description).joined(separator: ", "))

        // The chain goes on past the last kill, then stops in order.
        let target = max(Int64(context.records), tree.rowsLoaded() + 2 * page)
        let caughtUp = tree.waitForRows(target, timeout: context.patience)
        let states = tree.status()?.workers.map { "\($0.name) \($0.state)" }.joined(separator: ", ") ?? "no status"
        report.check("tree survived", caughtUp && tree.isRunning,
                     expected: "cidp up still running, ≥ \(target) rows after the last kill",
                     observed: "\(tree.rowsLoaded()) rows; " + (tree.isRunning ? states : "cidp up ended: " + tree.stderrTail()))
        let ending = tree.stop(timeout: context.patience)
        context.checkExit(ending, expected: 0, how: "after cidp stop", tree: tree, report: &report)
        let rows = context.checkFactTable(count: max(0, context.consumedRecords() ?? -1), report: &report)
        report.keyEvidence = ["\(kills.count) kills (\(kills.map(\.name).joined(separator: ",")))", "\(rows) rows"]
    }
}
