@testable import cidp
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// TOML for a worker's `env` that turns off the Swift runtime's crash backtracer: a worker that
/// aborts on purpose then dies at once instead of spending CPU symbolicating for the log.
let quietCrashes = #"env = { SWIFT_BACKTRACE = "enable=no" }"#

/// A process's virtual size in MiB, rounded up (`VmSize` of `/proc/PID/status`); nil once it is gone.
func virtualSizeMiB(of pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmSize:") }),
          let kibibytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
    return (kibibytes + 1023) / 1024
}

extension Sandbox {
    /// The pids of every `start NAME PID` line in the record file, in order.
    func startedPIDs(of name: String) -> [Int32] {
        records.compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[0] == "start", fields[1] == name else { return nil }
            return Int32(fields[2])
        }
    }

    /// Whether the record file has a `ready NAME PID` line.
    func recordedReady(_ name: String, pid: Int32) -> Bool {
        records.contains("ready \(name) \(pid)")
    }

    /// Creates an empty file in the sandbox and returns its path.
    func touch(_ name: String) -> String {
        let file = path + "/" + name
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        return file
    }
}

/// The virtual size in MiB (`VmSize`, what `RLIMIT_AS` counts) of an idle, ready `test` worker
/// under a supervisor, measured on a tree of its own. Gives a memory limit a known headroom.
func supervisedTestWorkerAddressSpaceMiB() throws -> Int {
    let sandbox = try Sandbox(policy: flatPolicy(workers: [("probe", "")]))
    let supervisor = try sandbox.up()
    let pid = try #require(try supervisor.waitForAllRunning()["probe"])
    let size = try #require(virtualSizeMiB(of: pid), "cannot read the VmSize of pid \(pid)")
    #expect(try supervisor.stop() == 0, "the probe tree did not stop cleanly: \(supervisor.log)")
    return size
}

extension RunningSupervisor {
    /// The console log lines holding `message` and every `key=value` of `metadata` (values
    /// without spaces, as names and pids are).
    func logLines(_ message: String, _ metadata: [String: String] = [:]) -> [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            guard line.contains(": " + message) else { return false }
            let tokens = Set(line.split(separator: " ").map(String.init))
            return metadata.allSatisfy { tokens.contains("\($0.key)=\($0.value)") }
        }
    }

    /// The tree, or nil while the control socket is not up yet (or no longer).
    func statusIfRunning() -> StatusTree? {
        try? ControlClient(runDirectory: RunDirectory(path: sandbox.runDirectory)).send(.status).tree
    }

    /// Polls `cidp status` until `condition` holds for the tree; returns whether it did.
    @discardableResult
    func waitForStatus(timeout: Duration = .seconds(20), _ condition: (StatusTree) -> Bool) -> Bool {
        poll(timeout: timeout) { statusIfRunning().map(condition) ?? false }
    }

    /// `cidp stop`, then waits for `cidp up` to exit; returns its exit code (nil on timeout).
    func stop() throws -> Int32? {
        let result = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 0, "cidp stop failed: \(result.stdout) \(result.stderr)")
        return waitForExit()
    }

    /// The status table, for failure messages.
    var statusTable: String { statusIfRunning()?.renderTable() ?? "no status (supervisor not answering)" }
}
