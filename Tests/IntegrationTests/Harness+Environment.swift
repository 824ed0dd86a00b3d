import Foundation
import Supervisor
import Testing

extension Sandbox {
    /// Starts `cidp up` on the policy, in the sandbox, with `environment` added to the test's own
    /// and the variables in `unsetting` removed, then waits (unless told not to) until the tree is
    /// ready. With `watchdogPIDIsOwn`, `WATCHDOG_PID` names the supervisor itself, as systemd sets
    /// it. It runs through `/bin/sh`, which `exec`s `cidp` in its own pid (`$$`).
    func up(environment: [String: String], unsetting: [String] = [], watchdogPIDIsOwn: Bool = false,
            _ extra: [String] = [], waitUntilReady: Bool = true) throws -> RunningSupervisor {
        let names = environment.keys.sorted()
        var script = unsetting.map { "unset \($0); " }.joined()
        // Values travel as positional parameters: no quoting to get wrong.
        for (index, name) in names.enumerated() { script += "export \(name)=\"${\(index + 1)}\"; " }
        if watchdogPIDIsOwn { script += "export WATCHDOG_PID=$$; " }
        script += "shift \(names.count); exec \"$@\""
        let supervisor = try RunningSupervisor(
            sandbox: self,
            arguments: ["-c", script, "sh"] + names.map { environment[$0]! }
                + [cidpBinary, "up", "--policy", policyPath, "--run-dir", runDirectory] + extra,
            executable: "/bin/sh")
        if waitUntilReady {
            let ready = poll { supervisor.log.contains("Supervision tree ready") || !supervisor.isRunning }
            #expect(ready && supervisor.isRunning, "the tree did not become ready: \(supervisor.log)")
        }
        return supervisor
    }
}

/// The environment of a process, from `/proc/PID/environ`: `NAME=VALUE` entries.
func environment(of pid: Int32) -> [String] {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [] }
    return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}
