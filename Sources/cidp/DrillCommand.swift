import ArgumentParser
import Posix
import Drills
import Foundation
import Supervisor
#if canImport(Glibc)
import Glibc
#endif

/// `cidp drill NAME`: the continuity plan's quarterly tests as a command. Each drill runs the
/// real `cidp up` on a temporary copy of the tree and warehouse, disturbs it as the scenario
/// says, observes it as an operator would (status, logs, the warehouse) and prints one line per
/// check, then `drill NAME: PASS` or `FAIL`.
struct DrillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Run a continuity drill on a temporary copy of the tree and warehouse and print its verdict.",
        discussion: """
            Drills: \(DrillCommand.knownNames.joined(separator: ", ")).
            Exit codes: 0 the system behaved as required; 1 it did not; 2 usage error.
            """)

    /// Every drill, in the order `all` runs them.
    static var drills: [any Drill.Type] { [CorruptionDrill.self, DeadlockDrill.self, APIDownDrill.self, OOMDrill.self, KillDrill.self] }
    static var knownNames: [String] { drills.map { $0.name } + ["all"] }

    @Argument(help: "The drill: corruption, deadlock, api-down, oom, kill or all.") var name: String
    @Option(help: "The policy of the tree under test (copied into the drill's temporary directory).")
    var policy: String = "policies/default.toml"
    @Option(help: "Records the run must load (follow drills load at least this many).") var records: Int = 20_000
    @Option(help: "Seed of the simulator's data and of the kill drill's plan.") var seed: UInt64 = 42
    @Flag(help: "Keep the temporary directory (warehouse, logs, output of cidp up) and print its path.") var keep = false

    func validate() throws {
        guard (2_000...10_000_000).contains(records) else {
            throw ValidationError("--records expects 2000...10000000, got \(records)")
        }
    }

    func run() throws {
        let selected: [any Drill.Type]
        if name == "all" {
            selected = Self.drills
        } else if let drill = Self.drills.first(where: { $0.name == name }) {
            selected = [drill]
        } else {
            throw CLIExit.usage("unknown drill '\(name)'; known drills: \(Self.knownNames.joined(separator: ", "))")
        }
        let executable = Posix.executablePath()
        let drillPolicy: DrillPolicy
        do { drillPolicy = try DrillPolicy(path: policy, executable: executable) } catch let error as DrillError {
            throw error.isUsage ? CLIExit.usage(error.message) : CLIExit(code: 1, message: error.message)
        }
        SpawnedProcess.forwardInterruptions()
        var reports: [DrillReport] = []
        for drill in selected {
            reports.append(try runOne(drill, policy: drillPolicy, executable: executable))
        }
        if name == "all" {
            print("")
            print(DrillSummary.table(reports))
            print("drill all: \(reports.allSatisfy(\.passed) ? "PASS" : "FAIL")")
        }
        fflush(nil)
        if !reports.allSatisfy(\.passed) { throw CLIExit(code: 1, message: "") }
    }

    /// Runs one drill in a sandbox of its own and prints its report as it goes.
    private func runOne(_ drill: any Drill.Type, policy: DrillPolicy, executable: String) throws -> DrillReport {
        let sandbox: DrillSandbox
        do { sandbox = try DrillSandbox(drill: drill.name, policy: policy) } catch let error as DrillError {
            throw CLIExit(code: 1, message: error.message)
        }
        let emit: (String) -> Void = { line in
            print(line)
            fflush(nil)
        }
        emit("drill \(drill.name): \(drill.scenario)")
        emit("  policy \(policy.path), \(records) records, seed \(seed), temp dir \(sandbox.path)")
        let context = DrillContext(policy: policy, sandbox: sandbox, records: records, seed: seed, executable: executable,
                                   note: { printError("drill \(drill.name): \($0)") })
        var report = DrillReport(drill: drill.name, emit: emit)
        let started = ContinuousClock.now
        do {
            try drill.init().run(context, report: &report)
        } catch {
            report.check("drill ran", false, expected: "the scenario carried out", observed: "\(error)")
        }
        report.duration = ContinuousClock.now - started
        if keep {
            emit("  kept \(sandbox.path) (warehouse database/, logs, up.stdout, up.stderr)")
        } else {
            sandbox.remove()
        }
        emit("  took \(report.duration.formattedSeconds)")
        emit(report.verdictLine)
        return report
    }
}
