import Foundation
import Supervisor
import Workers

/// Memory exhaustion (the plan's "RAM exhausted while assembling the DataFrame"): the loader,
/// about to commit the middle batch of a job, allocates without bound once (fault injection,
/// `FaultInjection`), so its policy's `memory_limit_mb` (RLIMIT_AS) must stop it. It must die of
/// it, be restarted once, and the job must lose nothing.
public struct OOMDrill: Drill {
    public static let name = "oom"
    public static let scenario = "the loader exceeds its memory limit (RLIMIT_AS) once, mid-job"

    public init() {}

    public func run(_ context: DrillContext, report: inout DrillReport) throws {
        let loader = context.policy.name(of: .loader)
        guard let limit = context.policy.worker(role: .loader)?.memoryLimit else {
            report.check("loader memory limit", false, expected: "memory_limit_mb > 0 for '\(loader)' (RLIMIT_AS)",
                         observed: "no limit in the policy: the drill would exhaust the machine's memory, not the worker's; not run")
            return
        }
        let batches = (context.records + context.policy.pageSize - 1) / context.policy.pageSize
        let batch = max(1, (batches + 1) / 2)
        let onceFile = context.sandbox.file("oom-fault-fired")
        let tree = try context.startTree(context.jobOptions, environment: [
            FaultInjection.oomAtBatchVariable: "\(batch)",
            FaultInjection.onceFileVariable: onceFile,
            // A worker dying of an allocation failure should not spend its last seconds (and more
            // memory) symbolicating a backtrace for the log.
            "SWIFT_BACKTRACE": "enable=no",
        ])
        var restarts = 0
        Deadline.poll(timeout: context.patience) {
            if let element = tree.element(loader) { restarts = max(restarts, element.restarts) }
            return !tree.isRunning
        }
        let ending = tree.waitForExit(timeout: .seconds(5))
        let log = SupervisorLog(directory: context.sandbox.logDirectory)
        let fired = log.entries("fault injection: exhausting memory", containing: true, ["worker.name": loader])
        let firedPID = fired.first?.metadata["worker.pid"]
        let exits = log.unexpectedExits(of: loader)
        let loaderPIDs = log.spawnedPIDs(of: loader)

        report.check("fault fired", fired.count == 1 && FileManager.default.fileExists(atPath: onceFile),
                     expected: "'\(loader)' starts allocating without bound before committing batch \(batch), once "
                        + "(memory_limit_mb \(limit / 1_048_576))",
                     observed: fired.isEmpty ? "no fault injection line in the log"
                        : fired.map { "pid \($0.metadata["worker.pid"] ?? "?"): \($0.message)" }.joined(separator: "; "))
        let death = exits.first { $0.pid == firedPID }
        // The runtime's last words, when it could say them: the allocation the limit refused.
        let refusal = firedPID.flatMap { pid in
            log.entries("failed to allocate", containing: true, ["worker.pid": pid]).first?.message
        }
        report.check("loader died of it", death.map { $0.status != "exit code 0" } ?? false,
                     expected: "pid \(firedPID ?? "?") ends abnormally (a fatal signal), not a clean exit",
                     observed: (exits.isEmpty ? "no unexpected exit of '\(loader)' in the log"
                        : exits.map { "pid \($0.pid): \($0.status)" }.joined(separator: "; "))
                        + (refusal.map { " after '\($0)'" } ?? ""))
        report.check("loader restarted once", loaderPIDs.count == 2 && restarts == 1,
                     expected: "the loader's pid changed once (2 pids, restarts 1)",
                     observed: "pids \(loaderPIDs.joined(separator: "→")), restarts \(restarts)")
        let others = context.policy.jobWorkers.map(\.name).filter { $0 != loader }
        let respawned = others.filter { log.spawnedPIDs(of: $0).count != 1 }
        report.check("others kept their pids", respawned.isEmpty,
                     expected: "every other worker spawned once",
                     observed: others.map { "\($0) \(log.spawnedPIDs(of: $0).joined(separator: "→"))" }.joined(separator: ", "))
        context.checkExit(ending, expected: 0, how: "(the job ends by itself)", tree: tree, report: &report)
        let rows = context.checkFactTable(count: context.records, report: &report)
        report.keyEvidence = [
            "loader " + (death.map { "died (\($0.status))" } ?? "did not die") + ", pids \(loaderPIDs.joined(separator: "→"))",
            "\(rows) rows",
        ]
    }
}
