import Foundation
import Supervisor

/// The sensor API unreachable: the simulator refuses connections for its first seconds
/// (`--sim-fault outage=5`). The extractor must show `degraded` while it retries — the same
/// process, not a crash loop — and the job must still load every record.
public struct APIDownDrill: Drill {
    public static let name = "api-down"
    public static let scenario = "the sensor API refuses connections for the first 5 s of a job (--sim-fault outage=5)"
    static let outageSeconds = 5

    public init() {}

    public func run(_ context: DrillContext, report: inout DrillReport) throws {
        let extractor = context.policy.name(of: .extractor)
        let tree = try context.startTree(context.jobOptions + ["--sim-fault", "outage=\(Self.outageSeconds)"])
        // Watch the extractor until the job ends: its states, pids and restart count.
        var states: [String] = []
        var pids: [Int32] = []
        var degradedReason: String?
        var recovered = false
        var restarts = 0
        let ended = Deadline.poll(timeout: context.patience) {
            if let element = tree.element(extractor) {
                if states.last != element.state { states.append(element.state) }
                if let pid = element.pid, pids.last != pid { pids.append(pid) }
                restarts = max(restarts, element.restarts)
                if element.state == "degraded", degradedReason == nil { degradedReason = element.reason ?? "no reason given" }
                if degradedReason != nil, element.state == "running" { recovered = true }
            }
            return !tree.isRunning
        }
        let ending = ended ? tree.process.ending : tree.waitForExit(timeout: .zero)
        let log = SupervisorLog(directory: context.sandbox.logDirectory)
        let exits = log.unexpectedExits(of: extractor)

        report.check("extractor degraded during outage", degradedReason != nil,
                     expected: "'\(extractor)' degraded in status (sensor API unreachable)",
                     observed: degradedReason.map { "degraded: \($0)" } ?? "states seen: \(states.joined(separator: " → "))")
        report.check("extractor recovered", recovered,
                     expected: "'\(extractor)' running again once the API is back",
                     observed: "states seen: \(states.joined(separator: " → "))")
        report.check("no crash loop", restarts == 0 && pids.count == 1 && exits.isEmpty,
                     expected: "'\(extractor)' restarts 0, one pid throughout, no unexpected exit",
                     observed: "restarts \(restarts), pids \(pids.map(String.init).joined(separator: "→")), "
                        + "\(exits.count) unexpected exits" + exits.prefix(3).map { " (pid \($0.pid): \($0.status))" }.joined())
        context.checkExit(ending, expected: 0, how: "(the job ends by itself)", tree: tree, report: &report)
        let rows = context.checkFactTable(count: context.records, report: &report)
        report.keyEvidence = [
            degradedReason != nil ? "extractor degraded, restarts \(restarts)" : "extractor never degraded",
            "\(rows) rows",
        ]
    }
}
