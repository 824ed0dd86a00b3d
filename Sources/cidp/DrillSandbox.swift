import Foundation
import Supervisor
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The policy a drill puts under test, read and checked once: the tree must hold the simulator
/// chain the drills drive, and must not write its logs outside the drill's temporary directory.
struct DrillPolicy {
    /// The file as given, made absolute.
    let path: String
    /// Its text, copied into each drill's temporary directory.
    let text: String
    let policy: Policy

    /// The roles every drill needs.
    static let requiredRoles: [WorkerRole] = [.sensorSim, .extractor, .transformer, .loader]

    /// - Throws: `CLIExit` (usage) naming the file and the problem.
    init(path: String, executable: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        do {
            policy = try PolicyLoader.load(path: absolute, executable: executable,
                                           knownRoles: Set(WorkerRole.allCases.map(\.rawValue)))
            text = try String(contentsOfFile: absolute, encoding: .utf8)
        } catch {
            throw CLIExit.usage("--policy: \(error)")
        }
        self.path = absolute
        for role in Self.requiredRoles where worker(role: role) == nil {
            throw CLIExit.usage("--policy \(path): no worker with role '\(role.rawValue)'; drills drive the simulator chain "
                                + Self.requiredRoles.map(\.rawValue).joined(separator: ", "))
        }
        guard !policy.logging.directory.hasPrefix("/") else {
            throw CLIExit.usage("--policy \(path): logging.dir '\(policy.logging.directory)' is absolute; a drill keeps its "
                                + "logs in its temporary directory, so it needs a directory relative to the working directory")
        }
    }

    /// Every worker of the tree, depth first, in start order.
    var workers: [ChildSpec] { Self.workers(in: policy.root) }

    /// The first worker running `role`.
    func worker(role: WorkerRole) -> ChildSpec? {
        workers.first { $0.command.count > 2 && $0.command[2] == role.rawValue }
    }

    /// The name in `cidp status` of the worker running `role` (the required roles always have one).
    func name(of role: WorkerRole) -> String { worker(role: role)?.name ?? role.rawValue }

    /// The integer value of `option` in the `args` of the worker running `role`, if set.
    func integerArgument(_ option: String, role: WorkerRole) -> Int? {
        guard let command = worker(role: role)?.command, let index = command.firstIndex(of: option),
              index + 1 < command.count else { return nil }
        return Int(command[index + 1])
    }

    /// Records per batch: the extractor's `--page-size` (1000 unless the policy says otherwise).
    var pageSize: Int { integerArgument("--page-size", role: .extractor) ?? 1000 }

    private static func workers(in node: NodeSpec) -> [ChildSpec] {
        node.children.flatMap { child -> [ChildSpec] in
            switch child {
            case .node(let inner): return workers(in: inner)
            case .worker(let spec): return [spec]
            }
        }
    }
}

/// The temporary copy a drill runs on: a fresh directory from `mkdtemp` holding a copy of the
/// policy, the warehouse, the run directory (control socket, lock), the logs (`cidp up` runs with
/// this directory as its working directory) and what `cidp up` printed. Never the operator's.
final class DrillSandbox {
    let path: String
    let policy: DrillPolicy

    var policyPath: String { path + "/policy.toml" }
    var databasePath: String { path + "/database/industrial_dwh.sqlite" }
    var runDirectory: String { path + "/run" }
    /// The policy's `[logging] dir`, relative to the sandbox.
    var logDirectory: String { path + "/" + policy.policy.logging.directory }
    var upStdoutPath: String { path + "/up.stdout" }
    var upStderrPath: String { path + "/up.stderr" }

    /// Creates `$TMPDIR/cidp-drill-NAME-XXXXXX` (or under /tmp) and copies the policy into it.
    /// - Throws: `CLIExit` (code 1) when the directory or the copy cannot be made.
    init(drill: String, policy: DrillPolicy) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base.hasSuffix("/") ? String(base.dropLast()) : base)/cidp-drill-\(drill)-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw CLIExit(code: 1, message: "cannot create a temporary directory under \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: created)
        self.policy = policy
        do {
            try policy.text.write(toFile: policyPath, atomically: true, encoding: .utf8)
        } catch {
            throw CLIExit(code: 1, message: "cannot copy the policy into \(path): \(error)")
        }
    }

    /// A file in the sandbox.
    func file(_ name: String) -> String { path + "/" + name }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
