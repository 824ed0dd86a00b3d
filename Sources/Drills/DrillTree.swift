import Foundation
import Supervisor
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A real `cidp up` started by a drill in its sandbox, observed the way an operator observes it:
/// `status` through the control socket, counts in the warehouse.
public final class TreeUnderTest {
    let sandbox: DrillSandbox
    let process: SpawnedProcess
    /// The command line, for reports.
    let arguments: [String]
    private let control: ControlClient

    /// Starts `EXECUTABLE up` on the sandbox's policy copy, warehouse and run directory, with
    /// the sandbox as working directory (so the policy's relative log directory lands in it);
    /// `options` are added (`--records`, `--follow`, `--sim-fault` …), `environment` too.
    /// - Throws: when the process cannot be started.
    init(sandbox: DrillSandbox, executable: String, options: [String], environment: [String: String] = [:]) throws {
        self.sandbox = sandbox
        arguments = ["up", "--policy", sandbox.policyPath, "--db", sandbox.databasePath,
                     "--run-dir", sandbox.runDirectory] + options
        process = try SpawnedProcess(executable: executable, arguments: arguments, directory: sandbox.path,
                                     environment: environment,
                                     stdoutPath: sandbox.upStdoutPath, stderrPath: sandbox.upStderrPath)
        control = ControlClient(runDirectory: RunDirectory(path: sandbox.runDirectory))
    }

    var pid: Int32 { process.pid }
    var isRunning: Bool { process.isRunning }

    /// The tree from `cidp status`, or nil while the control socket does not answer.
    func status() -> StatusTree? {
        try? control.send(.status).tree
    }

    /// One worker's (or node's) line of `cidp status`.
    func element(_ name: String) -> StatusTree? { status()?.find(name) }

    /// The pid of every worker that has one, by name.
    func pids() -> [String: Int32] {
        var result: [String: Int32] = [:]
        for worker in status()?.workers ?? [] { if let pid = worker.pid { result[worker.name] = pid } }
        return result
    }

    /// Waits until every worker is `running` (or `degraded`) with a pid; nil if it did not happen in time.
    func waitForAllRunning(timeout: Duration) -> [String: Int32]? {
        var pids: [String: Int32]?
        Deadline.poll(timeout: timeout) {
            guard let workers = status()?.workers, !workers.isEmpty,
                  workers.allSatisfy({ ($0.state == "running" || $0.state == "degraded") && $0.pid != nil }) else { return !isRunning }
            pids = Dictionary(uniqueKeysWithValues: workers.map { ($0.name, $0.pid!) })
            return true
        }
        return pids
    }

    /// Fact rows committed so far (0 before the warehouse exists). Read-only: opening a
    /// `Warehouse` may need the write lock, which the deadlock drill holds on purpose.
    func rowsLoaded() -> Int64 {
        guard FileManager.default.fileExists(atPath: sandbox.databasePath),
              let database = try? Database(readOnlyPath: sandbox.databasePath, busyTimeout: .milliseconds(200)),
              let count = try? database.prepare("SELECT count(*) FROM fact_telemetry_features"),
              (try? count.step()) == true else { return 0 }
        return count.int64(at: 0)
    }

    /// Waits until at least `rows` are committed; false on timeout or if `cidp up` exits first.
    func waitForRows(_ rows: Int64, timeout: Duration) -> Bool {
        var reached = false
        Deadline.poll(timeout: timeout, every: .milliseconds(100)) {
            reached = rowsLoaded() >= rows
            return reached || !isRunning
        }
        return reached
    }

    /// `cidp stop` through the control socket, then waits for `cidp up` to exit.
    /// - Returns: how it ended, or nil if it had not within `timeout` (it is then killed).
    func stop(timeout: Duration) -> SpawnedProcess.Ending? {
        _ = try? control.send(.stop, waitForExit: true)
        return waitForExit(timeout: timeout)
    }

    /// Waits for `cidp up` to end; past `timeout` it is killed (SIGKILL) and nil is returned.
    func waitForExit(timeout: Duration) -> SpawnedProcess.Ending? {
        if let ending = process.waitForExit(timeout: timeout) { return ending }
        process.send(signal: SIGKILL)
        _ = process.waitForExit(timeout: .seconds(10))
        return nil
    }

    /// The last `count` lines `cidp up` wrote on stderr, for a report.
    func stderrTail(_ count: Int = 3) -> String {
        process.stderr.split(separator: "\n").suffix(count).joined(separator: " / ")
    }

    /// The stderr lines of `cidp up` itself (not its workers' forwarded log lines): `cidp: …`.
    var ownErrorLines: [String] {
        process.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("cidp: ") }
    }
}
