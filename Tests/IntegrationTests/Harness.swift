@testable import cidp
import Drills
import Posix
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every few milliseconds until it holds or `timeout` passes; never sleeps
/// blindly. Returns whether it held. The drills' harness (`Deadline`), as `cidp drill` uses it.
@discardableResult
func poll(timeout: Duration = .seconds(20), _ condition: () throws -> Bool) rethrows -> Bool {
    try Deadline.poll(timeout: timeout, every: .milliseconds(5), condition)
}

/// The `cidp` executable built beside the test bundle.
let cidpBinary: String = {
    if let path = ProcessInfo.processInfo.environment["CIDP_BINARY"] { return path }
    let exe = URL(fileURLWithPath: Posix.executablePath())
    var directory = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("cidp").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    return exe.deletingLastPathComponent().appendingPathComponent("cidp").path
}()

/// Whether `pid` is a live process (not gone, not a zombie). Reads `/proc/PID/stat`.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
    return fields.first.map { $0 != "Z" && $0 != "X" } ?? false
}

/// The pids of `parent`'s children that are zombies (exited, not reaped).
func zombieChildren(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 && fields[0] == "Z" && Int32(fields[1]) == parent
    }
}

/// The number of open descriptors of a process.
func openDescriptorCount(_ pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1
}

/// A temporary directory holding one policy, a run directory and logs; removed at deinit.
final class Sandbox {
    let path: String
    var policyPath: String { path + "/policy.toml" }
    var runDirectory: String { path + "/run" }
    var recordPath: String { path + "/record.txt" }

    init(policy: String) throws {
        var template = Array("/tmp/cidp-test-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw Errno.current }
        path = String(cString: created)
        try policy.replacingOccurrences(of: "$RECORD", with: recordPath)
            .replacingOccurrences(of: "$SANDBOX", with: path)
            .write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Starts `cidp up` on the policy, in the sandbox, and waits until the tree is ready.
    func up(_ extra: [String] = [], waitUntilReady: Bool = true) throws -> RunningSupervisor {
        let supervisor = try RunningSupervisor(sandbox: self, arguments: ["up", "--policy", policyPath, "--run-dir", runDirectory] + extra)
        if waitUntilReady {
            let ready = poll { supervisor.log.contains("Supervision tree ready") || !supervisor.isRunning }
            #expect(ready && supervisor.isRunning, "the tree did not become ready: \(supervisor.log)")
        }
        return supervisor
    }

    /// Runs `cidp ARGS` to completion (with a deadline) and returns its exit code and output.
    func cidp(_ arguments: [String], timeout: Duration = .seconds(30),
              environment: [String: String] = [:]) throws -> (code: Int32, stdout: String, stderr: String) {
        try run(cidpBinary, arguments, timeout: timeout, environment: environment)
    }

    /// The lines of the record file the test workers append to (`start|ready|term NAME PID`).
    var records: [String] {
        ((try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// A `cidp up` process started by a test. Stopped with SIGKILL at deinit if still running
/// (its workers follow it through their parent-death signal).
final class RunningSupervisor {
    /// The process, through the drills' harness (`SpawnedProcess`), both streams into `logPath`.
    let spawned: SpawnedProcess
    let sandbox: Sandbox
    let logPath: String

    /// Starts `executable ARGUMENTS` (by default `cidp`) in the sandbox, output to a log file.
    init(sandbox: Sandbox, arguments: [String], executable: String = cidpBinary) throws {
        self.sandbox = sandbox
        logPath = sandbox.path + "/up.\(UUID().uuidString).log"
        spawned = try SpawnedProcess(executable: executable, arguments: arguments, directory: sandbox.path,
                                     stdoutPath: logPath, stderrPath: logPath)
    }

    var pid: Int32 { spawned.pid }
    var isRunning: Bool { spawned.isRunning }

    /// Everything the supervisor printed so far (console log lines).
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit and returns its exit code, or the signal that ended it (nil
    /// on timeout).
    func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        switch spawned.waitForExit(timeout: timeout) {
        case .exited(let code)?: return code
        case .signaled(let signal)?: return signal
        case nil: return nil
        }
    }

    /// The tree, through the control socket.
    func status() throws -> StatusTree {
        let reply = try ControlClient(runDirectory: RunDirectory(path: sandbox.runDirectory)).send(.status)
        return try #require(reply.tree)
    }

    /// The pid of each worker, by name.
    func pids() throws -> [String: Int32] {
        var result: [String: Int32] = [:]
        for worker in try status().workers { if let pid = worker.pid { result[worker.name] = pid } }
        return result
    }

    /// Waits until every worker is running with a pid, and returns the pids.
    func waitForAllRunning(timeout: Duration = .seconds(20)) throws -> [String: Int32] {
        var pids: [String: Int32] = [:]
        let settled = poll(timeout: timeout) {
            // Before the socket is listening, status fails: keep polling.
            guard let tree = try? status(), let current = try? self.pids() else { return false }
            pids = current
            return tree.workers.allSatisfy { $0.state == "running" }
        }
        #expect(settled, "not every worker became running: \((try? status()).map { $0.renderTable() } ?? "no status")")
        return pids
    }
}

/// A policy of `test` workers: `workers` are (name, extra TOML lines), all under one root node.
func flatPolicy(strategy: String = "one_for_one", intensity: Int = 10, periodMs: Int = 10_000,
                workers: [(String, String)], defaults: String = "") -> String {
    var text = """
    [supervisor]
    name = "root"
    strategy = "\(strategy)"
    intensity = \(intensity)
    period_ms = \(periodMs)
    children = [\(workers.map { "\"\($0.0)\"" }.joined(separator: ", "))]

    [logging]
    dir = "logs"

    [defaults]
    shutdown = 3000
    readiness_timeout_ms = 10000
    \(defaults)

    [defaults.backoff]
    initial_ms = 10
    max_ms = 50
    jitter = 0.0
    stable_ms = 60000

    """
    for (name, extra) in workers {
        text += """

        [workers.\(name)]
        role = "test"
        \(extra)

        """
    }
    return text
}
