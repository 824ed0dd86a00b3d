import ArgumentParser
import Supervisor
import Wire
import Workers
#if canImport(Glibc)
import Glibc
import CivilCalendar
#endif

/// The pipeline options of `cidp up`: where the data comes from and where it goes. They are
/// applied to the policy's workers by role before anything starts.
struct JobOptions: ParsableArguments {
    @Option(help: "Records the built-in sensor simulator serves (with --source sim).")
    var records: Int = 10_000

    @Option(help: "'sim' for the built-in sensor simulator, or the base URL of a sensor API (http:// or https://).")
    var source: String = "sim"

    @Option(help: "The SQLite warehouse file.")
    var db: String = "database/industrial_dwh.sqlite"

    @Option(name: .customLong("sim-fault"),
            help: "Fault injected by the simulator, KIND=VALUE (repeatable): outage=SECONDS, latency=MS, http500=RATE, malformed=RATE, poison=RATE[@FROM], missing=RATE, flip=RATE[@FROM] (failure labels inverted from record FROM on).")
    var simFaults: [String] = []

    @Option(help: "Seed of the simulator's data.")
    var seed: UInt64 = 42

    @Flag(help: "Run continuously: the extractor keeps polling the source and the tree runs until 'cidp stop'.")
    var follow = false

    @Option(help: "With --follow and the simulator: records it adds each second after the first --records.")
    var simRate: Double = 10

    @Flag(help: "Lift the halts an integrity gate left in the warehouse (after reading the quarantine) before starting; without it a halted chain stays down.")
    var resume = false

    var usesSimulator: Bool { source == "sim" }

    func validate() throws {
        guard (1...TelemetryGenerator.maximumCount).contains(records) else {
            throw ValidationError("--records expects 1...\(TelemetryGenerator.maximumCount) (the simulator's hours end in 2022), got \(records)")
        }
        guard usesSimulator || source.hasPrefix("http://") || source.hasPrefix("https://") else {
            throw ValidationError("--source expects 'sim' or an http:// or https:// URL, got '\(source)'")
        }
        guard usesSimulator || simFaults.isEmpty else {
            throw ValidationError("--sim-fault needs the built-in simulator (--source sim)")
        }
        for fault in simFaults {
            do { _ = try SimulatorFaults.parse(fault) } catch {
                throw ValidationError("--sim-fault '\(fault)': \(error)")
            }
        }
        guard !db.isEmpty else { throw ValidationError("--db expects a file path") }
        guard simRate.isFinite, (0...1_000_000).contains(simRate) else {
            throw ValidationError("--sim-rate expects records per second 0...1000000, got \(simRate)")
        }
    }

    /// A new run's id: the UTC time it started and the root's pid, e.g. `20261204T021500Z-4242`.
    static func newRunID() -> String {
        let now = time(nil)
        let days = CivilDate.floorDivide(Int64(now), 86_400)
        let seconds = Int64(now) - days * 86_400
        let date = CivilDate.date(days: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(date.year)\(two(date.month))\(two(date.day))T\(two(seconds / 3600))\(two(seconds / 60 % 60))\(two(seconds % 60))Z-\(getpid())"
    }

    /// The policy with each pipeline worker given its options (by role); without the simulator,
    /// the `sensor-sim` workers are left out of the tree.
    /// - Parameter runID: this run (`etl_runs`): the loader records when the stream this run is to
    ///   load is committed, and a job's trainer waits for that.
    func apply(to policy: Policy, simulatorPort: UInt16, runID: String) -> Policy {
        let url = usesSimulator ? "http://127.0.0.1:\(simulatorPort)" : source
        // A job ends when its last stage is done: the trainer's model, or without a trainer the
        // loader's last batch. With --follow nothing ends it but `cidp stop`.
        let finisher = Self.roles(in: policy.root).contains(WorkerRole.trainer.rawValue)
            ? WorkerRole.trainer.rawValue : WorkerRole.loader.rawValue
        let jobFlag = follow ? [] : ["--job", "--run-id", runID]
        // The predictor serves the model to clients: a service, left out of a job (which ends once
        // the model is trained, so a server in it would vanish under its clients within minutes,
        // and parallel jobs on one machine would contend for its port). It runs with --follow and
        // in a tree without a loader or trainer (a serving-only policy beside nightly jobs).
        let roles = Self.roles(in: policy.root)
        let isJob = !follow && (roles.contains(WorkerRole.loader.rawValue) || roles.contains(WorkerRole.trainer.rawValue))
        func rewrite(_ node: NodeSpec) -> NodeSpec {
            var node = node
            node.children = node.children.compactMap { child -> TreeSpec? in
                switch child {
                case .node(let inner):
                    // A node left with no children (only a predictor, in a job) is left out too.
                    let rewritten = rewrite(inner)
                    return rewritten.children.isEmpty ? nil : .node(rewritten)
                case .worker(var spec):
                    switch spec.role {
                    case WorkerRole.sensorSim.rawValue:
                        guard usesSimulator else { return nil }
                        spec.arguments += ["--port", "\(simulatorPort)", "--records", "\(records)", "--seed", "\(seed)"]
                            + simFaults.flatMap { ["--fault", $0] }
                            + (follow ? ["--follow-rate", "\(simRate)"] : [])
                    case WorkerRole.extractor.rawValue:
                        spec.arguments += ["--source", url, "--db", db] + (follow ? ["--follow"] : [])
                    case WorkerRole.transformer.rawValue:
                        spec.arguments += ["--db", db]
                    case WorkerRole.loader.rawValue:
                        spec.arguments += ["--db", db] + (spec.role == finisher ? jobFlag : follow ? [] : ["--run-id", runID])
                    case WorkerRole.trainer.rawValue:
                        spec.arguments += ["--db", db] + (spec.role == finisher ? jobFlag : [])
                    case WorkerRole.predictor.rawValue:
                        guard !isJob else { return nil }
                        spec.arguments += ["--db", db]
                    default:
                        break
                    }
                    return .worker(spec)
                }
            }
            return node
        }
        var policy = policy
        policy.root = rewrite(policy.root)
        return policy
    }

    /// Checks every pipeline worker's options (its keys or `args` in the policy, plus what `apply`
    /// added) as the worker will parse them.
    /// - Throws: the first worker's problem: a `PolicyError` at the key that set the option it
    ///   names (`x.toml:12: workers.extractor.page_size: …`), else its `WorkerUsageError`.
    static func validateWorkerArguments(in policy: Policy) throws {
        for spec in policy.root.workers {
            guard let role = WorkerRole(rawValue: spec.role) else { continue }
            do {
                try role.validate(arguments: spec.arguments, environment: spec.environment)
            } catch {
                throw policy.locate(worker: spec.name, problem: error.description) ?? error
            }
        }
    }

    /// The role of every worker in the tree.
    static func roles(in node: NodeSpec) -> [String] {
        node.workers.map(\.role)
    }
}
