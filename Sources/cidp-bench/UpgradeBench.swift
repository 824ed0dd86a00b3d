// cidp-bench upgrade: the load's rows/s through an upgrade of the whole chain, beside the same
// job with no upgrade, in one run.
//
//   swift build -c release --static-swift-stdlib && .build/release/cidp-bench upgrade --records 1000000
//
// Three jobs of N records each (the ETL tree, no trainer), into fresh warehouses: one plain; one
// where `cidp upgrade` moves every worker (same binary: the cost is the stop, the spawn and the
// readiness of each, one at a time) once a third of the rows are loaded; one where `cidp upgrade
// --root` re-executes the supervisor at the same point; `--repeats` times each. The loader's
// committed rows are read from the checkpoint every 20 ms, every 5 ms while the upgrade runs;
// reported: the whole job's time beside the plain job's, the upgrade's own duration, and the
// rows/s while it ran beside the rows/s over the half second before it.
import Foundation
import Posix
import Supervisor
import Workers

enum UpgradeBench {
    struct Run {
        var seconds: Double
        /// When the upgrade command started and returned, seconds from the job's start.
        var upgrade: (start: Double, end: Double)?
        /// (seconds from start, rows committed).
        var samples: [(Double, Int64)]

        /// Rows/s between `from` and `to`, from the samples around them.
        func rate(from: Double, to: Double) -> Double {
            guard to > from,
                  let first = samples.last(where: { $0.0 <= from }) ?? samples.first,
                  let last = samples.first(where: { $0.0 >= to }) ?? samples.last, last.0 > first.0 else { return .nan }
            return Double(last.1 - first.1) / (last.0 - first.0)
        }
    }

    enum Kind: String { case none, workers, root }

    static func runJob(binary: String, workspace: String, policy: String, records: Int, kind: Kind) -> Run {
        let db = workspace + "/upgrade-\(kind.rawValue)-\(records).sqlite"
        try? FileManager.default.removeItem(atPath: db)
        let run = RunDirectory(path: workspace + "/run-upgrade-\(kind.rawValue)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["up", "--policy", policy, "--run-dir", run.path, "--records", "\(records)",
                             "--db", db, "--log-level", "error", "--quiet"]
        process.currentDirectoryURL = URL(fileURLWithPath: workspace)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let start = Posix.monotonicNow()
        try! process.run()
        var samples: [(Double, Int64)] = []
        var upgrade: (Double, Double)?
        var reader: Warehouse?
        while process.isRunning {
            if reader == nil, FileManager.default.fileExists(atPath: db) {
                reader = try? Warehouse(readingOnly: db, busyTimeout: .milliseconds(100))
            }
            let rows = (try? reader?.watermark())??.rowsLoaded ?? 0
            let now = (Posix.monotonicNow() - start).seconds
            samples.append((now, rows))
            if kind != .none, upgrade == nil, rows >= Int64(records / 3) {
                // Sampled on a thread of its own while the command runs.
                let done = DispatchSemaphore(value: 0)
                let command = Process()
                command.executableURL = URL(fileURLWithPath: binary)
                command.arguments = ["upgrade", "--run-dir", run.path] + (kind == .root ? ["--root"] : [])
                command.standardOutput = FileHandle.nullDevice
                command.standardError = FileHandle.nullDevice
                command.terminationHandler = { _ in done.signal() }
                try! command.run()
                while done.wait(timeout: .now() + .milliseconds(5)) == .timedOut {
                    let rows = (try? reader?.watermark())??.rowsLoaded ?? 0
                    samples.append(((Posix.monotonicNow() - start).seconds, rows))
                }
                guard command.terminationStatus == 0 else { fail("cidp upgrade (\(kind)) exited \(command.terminationStatus)") }
                upgrade = (now, (Posix.monotonicNow() - start).seconds)
                continue
            }
            Posix.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        let seconds = (Posix.monotonicNow() - start).seconds
        guard process.terminationStatus == 0 else { fail("cidp up --records \(records) (\(kind)) exited \(process.terminationStatus)") }
        let rows = (try? Warehouse(path: db, busyTimeout: .seconds(5)).rowCount()) ?? -1
        guard rows == Int64(records) else { fail("cidp up --records \(records) (\(kind)) loaded \(rows) rows") }
        if kind != .none, upgrade == nil { fail("the job (\(kind)) ended before a third of it was loaded") }
        return Run(seconds: seconds, upgrade: upgrade, samples: samples)
    }
}

@MainActor
func runUpgradeBench(records: Int, repeats: Int) {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let cidp = directory.appendingPathComponent("cidp").path
    let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-upgrade-bench-\(getpid())").path
    try! FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    let policy = workspace + "/etl.toml"
    try! etlPolicyText(logs: workspace + "/logs").write(toFile: policy, atomically: true, encoding: .utf8)

    print("| job of \(records) rows | job s | ÷ plain (same round) | upgrade s | rows/s the 0.5 s before | rows/s during the upgrade | during ÷ before |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for _ in 0..<repeats {
        let plain = UpgradeBench.runJob(binary: cidp, workspace: workspace, policy: policy, records: records, kind: .none)
        print(String(format: "| no upgrade | %.2f | 1.00 | - | - | %.0f (whole job) | - |", plain.seconds,
                     Double(records) / plain.seconds))
        for kind in [UpgradeBench.Kind.workers, .root] {
            let run = UpgradeBench.runJob(binary: cidp, workspace: workspace, policy: policy, records: records, kind: kind)
            guard let window = run.upgrade else { continue }
            let before = run.rate(from: window.start - 0.5, to: window.start)
            let during = run.rate(from: window.start, to: window.end)
            print(String(format: "| %@ | %.2f | %.2f | %.3f | %.0f | %.0f | %.2f |",
                         kind == .workers ? "cidp upgrade (every worker, in turn)" : "cidp upgrade --root",
                         run.seconds, run.seconds / plain.seconds, window.end - window.start, before, during, during / before))
        }
    }
}
