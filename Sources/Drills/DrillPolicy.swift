import Foundation
import PolicyRoles
import Supervisor
import Workers

/// The policy a drill puts under test, read and checked once: the tree must hold the simulator
/// chain the drills drive, and must not write its logs outside the drill's temporary directory.
public struct DrillPolicy {
    /// The file as given, made absolute.
    public let path: String
    /// Its text, copied into each drill's temporary directory.
    let text: String
    let policy: Policy

    /// The roles every drill needs.
    static let requiredRoles: [WorkerRole] = [.sensorSim, .extractor, .transformer, .loader]

    /// - Throws: `DrillError` (usage) naming the file and the problem.
    public init(path: String, executable: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        do {
            policy = try PolicyLoader.load(path: absolute, executable: executable,
                                           roles: WorkerRole.policySchemas)
            text = try String(contentsOfFile: absolute, encoding: .utf8)
        } catch {
            throw DrillError.usage("--policy: \(error)")
        }
        self.path = absolute
        for role in Self.requiredRoles where worker(role: role) == nil {
            throw DrillError.usage("--policy \(path): no worker with role '\(role.rawValue)'; drills drive the simulator chain "
                                + Self.requiredRoles.map(\.rawValue).joined(separator: ", "))
        }
        guard !policy.logging.directory.hasPrefix("/") else {
            throw DrillError.usage("--policy \(path): logging.dir '\(policy.logging.directory)' is absolute; a drill keeps its "
                                + "logs in its temporary directory, so it needs a directory relative to the working directory")
        }
    }

    /// Every worker of the tree, depth first, in start order.
    var workers: [ChildSpec] { policy.root.workers }

    /// The workers a job starts: all but the predictor, which a job leaves out (`JobOptions.apply`).
    var jobWorkers: [ChildSpec] {
        workers.filter { $0.role != WorkerRole.predictor.rawValue }
    }

    /// The first worker running `role`.
    func worker(role: WorkerRole) -> ChildSpec? {
        workers.first { $0.role == role.rawValue }
    }

    /// The name in `cidp status` of the worker running `role` (the required roles always have one).
    func name(of role: WorkerRole) -> String { worker(role: role)?.name ?? role.rawValue }

    /// The integer value of `option` in the `args` of the worker running `role`, if set.
    func integerArgument(_ option: String, role: WorkerRole) -> Int? {
        guard let arguments = worker(role: role)?.arguments, let index = arguments.firstIndex(of: option),
              index + 1 < arguments.count else { return nil }
        return Int(arguments[index + 1])
    }

    /// Records per batch: the extractor's `--page-size` (1000 unless the policy says otherwise).
    var pageSize: Int { integerArgument("--page-size", role: .extractor) ?? 1000 }
}
