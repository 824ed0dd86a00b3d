import Foundation
import Supervisor
import Pipeline
import Wire
import Workers

/// One scenario of the continuity plan, run on a temporary copy of the tree and judged by checks.
public protocol Drill {
    /// The name on the command line.
    static var name: String { get }
    /// What it does, in a few words, for the header line.
    static var scenario: String { get }
    init()
    /// Runs the scenario in `context` and records its checks in `report`.
    /// - Throws: only when the drill itself cannot go on (a process that cannot be started);
    ///   the system's misbehaviour is a failed check, never an error.
    func run(_ context: DrillContext, report: inout DrillReport) throws
}

/// What every drill is given: the command line's settings and its own sandbox.
public struct DrillContext {
    let policy: DrillPolicy
    let sandbox: DrillSandbox
    /// `--records`: how many records the run must load.
    let records: Int
    let seed: UInt64
    /// The `cidp` executable that starts the tree: this one.
    let executable: String
    /// Progress notes for the operator (stderr), not part of the verdict.
    let note: (String) -> Void

    public init(policy: DrillPolicy, sandbox: DrillSandbox, records: Int, seed: UInt64, executable: String,
                note: @escaping (String) -> Void) {
        self.policy = policy
        self.sandbox = sandbox
        self.records = records
        self.seed = seed
        self.executable = executable
        self.note = note
    }

    /// The longest wait for anything a healthy tree does (two minutes, more for a big
    /// `--records`); past it the check fails.
    var patience: Duration { .seconds(120 + records / 5_000) }

    /// Starts `cidp up` in the sandbox with `--seed` and `options` (which name `--records`).
    func startTree(_ options: [String], environment: [String: String] = [:]) throws -> TreeUnderTest {
        let tree = try TreeUnderTest(sandbox: sandbox, executable: executable,
                                     options: ["--seed", "\(seed)"] + options, environment: environment)
        note("started cidp up (pid \(tree.pid)) in \(sandbox.path): \(tree.arguments.dropFirst().joined(separator: " "))")
        return tree
    }

    /// A job over `--records` records: `cidp up` ends by itself once the model is trained.
    var jobOptions: [String] { ["--records", "\(records)"] }

    /// A run that is still going whenever the drill acts (`--follow`): the source starts with a
    /// quarter of `--records` (at least two batches) and grows to `--records` in about six
    /// seconds, then on; the drill stops it with `cidp stop`.
    var followOptions: [String] {
        let rate = max(Double(policy.pageSize), Double(records - followInitialRecords) / 6)
        return ["--records", "\(followInitialRecords)", "--follow", "--sim-rate", String(format: "%.0f", rate)]
    }

    /// What a `--follow` source holds from the start.
    var followInitialRecords: Int { min(records, max(2 * policy.pageSize, records / 4)) }

    // MARK: Checks shared by the drills

    /// `cidp up exit`: how `cidp up` ended against what the scenario requires.
    func checkExit(_ ending: SpawnedProcess.Ending?, expected: Int32, how: String, tree: TreeUnderTest,
                   report: inout DrillReport) {
        let observed = ending.map { "\($0)" } ?? "still running past the deadline (killed)"
        let tail = ending == .exited(code: expected) ? "" : tree.ownErrorLines.last.map { "; stderr: \($0)" } ?? ""
        report.check("cidp up exit", ending == .exited(code: expected),
                     expected: "exit code \(expected) \(how)", observed: observed + tail)
    }

    /// `fact table`: the warehouse against the reference — exactly its first `count` records,
    /// each once, value for value — and the checkpoint agreeing (nothing dropped).
    /// - Returns: the number of rows, for the key evidence.
    @discardableResult
    func checkFactTable(count: Int, report: inout DrillReport) -> Int {
        let warehouse: Warehouse
        let rows: [TelemetryRecord]
        let checkpoint: Checkpoint?
        do {
            warehouse = try Warehouse(path: sandbox.databasePath, busyTimeout: .seconds(5))
            rows = try warehouse.rows()
            checkpoint = try warehouse.checkpoint()
        } catch {
            report.check("fact table", false, expected: "a readable warehouse", observed: "\(error)")
            return 0
        }
        let comparison = TableComparison(observed: rows, expected: ReferenceTable.rows(seed: seed, count: count))
        report.check("fact table", comparison.isExact,
                     expected: "the first \(count) records of the stream (seed \(seed)), each once, value for value",
                     observed: comparison.summary)
        let dropped = checkpoint?.rowsDropped ?? 0
        let loaded = checkpoint?.rowsLoaded ?? 0
        report.check("checkpoint reconciles", dropped == 0 && loaded == Int64(rows.count),
                     expected: "rows_loaded \(rows.count), rows_dropped 0",
                     observed: "rows_loaded \(loaded), rows_dropped \(dropped), last batch \(checkpoint?.batchID ?? 0)")
        return rows.count
    }

    /// The records a `--follow` run consumed: the committed checkpoint's source position (the
    /// simulator's cursor is the index of a record; plus the records of that page already taken),
    /// which is what its fact table must hold after `cidp stop`.
    func consumedRecords() -> Int? {
        guard let position = try? Warehouse(path: sandbox.databasePath, busyTimeout: .seconds(5)).checkpoint()?.position,
              let first = position.cursor.map({ Int($0) }) ?? 0 else { return nil }
        return first + position.skip
    }

    /// Waits until `rows` are committed and every worker runs; on failure records the check
    /// `run under way`, stops the tree and returns nil.
    /// - Returns: the worker pids once under way.
    func waitUnderWay(_ tree: TreeUnderTest, rows: Int64, report: inout DrillReport) -> [String: Int32]? {
        if tree.waitForRows(rows, timeout: patience), let pids = tree.waitForAllRunning(timeout: .seconds(30)),
           tree.isRunning {
            note("under way: \(tree.rowsLoaded()) rows committed")
            return pids
        }
        let observed = tree.isRunning
            ? "\(tree.rowsLoaded()) rows; " + (tree.status()?.workers.map { "\($0.name) \($0.state)" }.joined(separator: ", ") ?? "no status")
            : "cidp up ended (\(tree.process.ending.map { "\($0)" } ?? "?")): " + tree.stderrTail()
        report.check("run under way", false, expected: "≥ \(rows) rows committed, every worker running", observed: observed)
        _ = tree.stop(timeout: patience)
        return nil
    }

    /// The pids of all workers before and after, side by side; `changed` lists the differences.
    static func comparePIDs(_ before: [String: Int32], _ after: [String: Int32]) -> (text: String, changed: [String]) {
        let names = before.keys.sorted()
        let changed = names.filter { before[$0] != after[$0] }
        let text = names.map { name in
            let old = before[name].map(String.init) ?? "-"
            let new = after[name].map(String.init) ?? "-"
            return old == new ? "\(name) \(old)" : "\(name) \(old)→\(new)"
        }.joined(separator: ", ")
        return (text, changed)
    }
}
