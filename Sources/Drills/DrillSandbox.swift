import Foundation
import Posix
import Supervisor
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The temporary copy a drill runs on: a fresh directory from `mkdtemp` holding a copy of the
/// policy, the warehouse, the run directory (control socket, lock), the logs (`cidp up` runs with
/// this directory as its working directory) and what `cidp up` printed. Never the operator's.
public final class DrillSandbox {
    public let path: String
    let policy: DrillPolicy

    var policyPath: String { path + "/policy.toml" }
    var databasePath: String { path + "/database/industrial_dwh.sqlite" }
    var runDirectory: String { path + "/run" }
    /// The policy's `[logging] dir`, relative to the sandbox.
    var logDirectory: String { path + "/" + policy.policy.logging.directory }
    var upStdoutPath: String { path + "/up.stdout" }
    var upStderrPath: String { path + "/up.stderr" }

    /// Creates `$TMPDIR/cidp-drill-NAME-XXXXXX` (or under /tmp) and copies the policy into it.
    /// - Throws: `DrillError` (failure) when the directory or the copy cannot be made.
    public init(drill: String, policy: DrillPolicy) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        do {
            path = try Posix.makeTemporaryDirectory("\(base.hasSuffix("/") ? String(base.dropLast()) : base)/cidp-drill-\(drill)-XXXXXX")
        } catch {
            throw DrillError.failure("cannot create a temporary directory under \(base): \(error)")
        }
        self.policy = policy
        do {
            try policy.text.write(toFile: policyPath, atomically: true, encoding: .utf8)
        } catch {
            throw DrillError.failure("cannot copy the policy into \(path): \(error)")
        }
    }

    /// A file in the sandbox.
    func file(_ name: String) -> String { path + "/" + name }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
