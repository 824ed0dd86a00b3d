import Forest
import Posix
import Foundation
import Supervisor
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `cidp-bench etl`: the ETL chain side by side with its baselines, in one run.
///
/// 1. raw prepared-statement inserts of N rows into the same schema (same unique key);
/// 2. `cidp up --records N` end to end (simulator, extractor, transformer, loader), wall time
///    from spawn to exit, with each worker's peak RSS (VmHWM, sampled until it exits);
/// 3. optionally the Python original (pandas + SQLAlchemy) on the same data from the same
///    simulator, extract + transform + load.
enum EtlBench {
    struct Run {
        var seconds: Double
        var peakRSS: [String: Int]  // KiB by worker name
    }

    static func peakRSS(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// Runs `cidp up` on the default policy for `records` and samples the workers' peak RSS.
    /// `extraArguments` go to `cidp up`; with `allRowsLoaded: false` (a profile with missing
    /// readings) the warehouse may hold fewer rows than records, but at least one.
    static func runJob(binary: String, workspace: String, policy: String, records: Int, extraArguments: [String] = [],
                       allRowsLoaded: Bool = true) -> Run {
        let db = workspace + "/etl-\(records).sqlite"
        try? FileManager.default.removeItem(atPath: db)
        let run = RunDirectory(path: workspace + "/run-etl-\(records)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["up", "--policy", policy, "--run-dir", run.path, "--records", "\(records)",
                             "--db", db, "--log-level", "error"] + extraArguments
        process.currentDirectoryURL = URL(fileURLWithPath: workspace)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let start = Posix.monotonicNow()
        try! process.run()
        var peaks: [String: Int] = [:]
        var pids: [String: Int32] = [:]
        while process.isRunning {
            if let tree = (try? ControlClient(runDirectory: run).send(.status))?.tree {
                for worker in tree.workers { if let pid = worker.pid { pids[worker.name] = pid } }
            }
            for (name, pid) in pids { if let kib = peakRSS(pid) { peaks[name] = max(peaks[name] ?? 0, kib) } }
            Posix.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        let seconds = (Posix.monotonicNow() - start).seconds
        guard process.terminationStatus == 0 else { fail("cidp up --records \(records) exited \(process.terminationStatus)") }
        let rows = (try? Warehouse(path: db, busyTimeout: .seconds(5)).rowCount()) ?? -1
        guard allRowsLoaded ? rows == Int64(records) : rows > 0 else { fail("cidp up --records \(records) loaded \(rows) rows") }
        return Run(seconds: seconds, peakRSS: peaks)
    }

    /// The Python original against a standalone simulator serving the same data; nil when
    /// pandas or SQLAlchemy is missing.
    static func runOriginal(simulator: String, script: String, workspace: String, records: Int) -> Double? {
        guard let port = try? Posix.freeLoopbackPort() else { return nil }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: simulator)
        server.arguments = ["--port", "\(port)", "--records", "\(records)", "--seed", "42"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try! server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", script, "--source", "http://127.0.0.1:\(port)", "--db", workspace + "/original.sqlite"]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = FileHandle.nullDevice
        // Wait until the simulator listens (its port answers).
        for _ in 0..<500 {
            if let fd = try? Posix.connectTCP(host: "127.0.0.1", port: port) {
                Posix.close(fd)
                break
            }
            Posix.sleep(for: .milliseconds(10))
        }
        try! python.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        guard python.terminationStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let total = object["total_s"] as? Double, (object["rows"] as? Int) == records else { return nil }
        return total
    }
}

/// `policies/default.toml`, found from the package directory or beside the build directory.
let defaultPolicyText: String = {
    let fromBuild = URL(fileURLWithPath: Posix.executablePath()).deletingLastPathComponent()
        .appendingPathComponent("../../policies/default.toml").standardized.path
    for path in ["policies/default.toml", fromBuild] {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) { return text }
    }
    fail("cannot find policies/default.toml (run from the package directory)")
}()

@MainActor
func runEtlBench(records: [Int], pythonRecords: Int) {
    let directory = URL(fileURLWithPath: Posix.executablePath()).deletingLastPathComponent()
    let cidp = directory.appendingPathComponent("cidp").path
    let simulator = directory.appendingPathComponent("cidp-sensor-sim").path
    let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-etl-bench-\(getpid())").path
    try! FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    // Extract, transform and load only: the tree without its `ml` node (the trainer is
    // measured by `cidp-bench forest`).
    let policy = workspace + "/etl.toml"
    try! etlPolicyText(logs: workspace + "/logs").write(toFile: policy, atomically: true, encoding: .utf8)

    print("| N | raw inserts rows/s | cidp up rows/s (end to end) | ratio | cidp up wall s | peak RSS MiB: " +
          "sensor-sim / extractor / transformer / loader |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in records {
        let raw = (try? RawInsertBaseline.rawInsertRowsPerSecond(path: workspace + "/raw-\(count).sqlite", rows: count)) ?? .nan
        let job = EtlBench.runJob(binary: cidp, workspace: workspace, policy: policy, records: count)
        let rate = Double(count) / job.seconds
        let rss = ["sensor-sim", "extractor", "transformer", "loader"]
            .map { job.peakRSS[$0].map { String(format: "%.1f", Double($0) / 1024) } ?? "?" }.joined(separator: " / ")
        print(String(format: "| %d | %.0f | %.0f | %.2f | %.2f | %@ |", count, raw, rate, rate / raw, job.seconds, rss))
    }
    if pythonRecords > 0 {
        let script = URL(fileURLWithPath: "benchmarks/original_etl.py").path
        let job = EtlBench.runJob(binary: cidp, workspace: workspace, policy: policy, records: pythonRecords)
        if let original = EtlBench.runOriginal(simulator: simulator, script: script, workspace: workspace, records: pythonRecords) {
            print("")
            print(String(format: "N=%d extract+transform+load: Python original (pandas + SQLAlchemy to_sql) %.2f s, " +
                         "cidp up %.2f s (whole tree, start to stop): %.1fx", pythonRecords, original, job.seconds, original / job.seconds))
        } else {
            print("\nPython original not run: needs python3 with pandas and SQLAlchemy (pip install pandas sqlalchemy)")
        }
    }
}

/// The default policy without its `ml` node and trainer (the last two tables of the file).
func etlPolicyText(logs: String) -> String {
    guard let ml = defaultPolicyText.range(of: "[nodes.ml]") else { fail("policies/default.toml has no [nodes.ml]") }
    return String(defaultPolicyText[..<ml.lowerBound])
        .replacingOccurrences(of: #"children = ["sensor-sim", "etl", "ml"]"#, with: #"children = ["sensor-sim", "etl"]"#)
        .replacingOccurrences(of: "dir = \"logs\"", with: "dir = \"\(logs)\"")
}

/// `cidp-bench forest`: the Random Forest's fit time and holdout ROC-AUC beside scikit-learn's on
/// the same synthetic rows, and the trainer's peak RSS in a whole `cidp up` job.
@MainActor
func runForestBench(rows: [Int], withSklearn: Bool, jobRecords: Int) {
    print("| rows | Swift fit s (2 threads) | Swift holdout ROC-AUC | scikit-learn fit s (n_jobs=2) | scikit-learn ROC-AUC | fit speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in rows {
        let swift = RandomForest.benchmarkFit(rows: count)
        var sklearnSeconds = Double.nan
        var sklearnAUC = Double.nan
        if withSklearn {
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = ["python3", "benchmarks/sklearn_forest.py", "--rows", "\(count)", "--n-jobs", "2"]
            let output = Pipe()
            python.standardOutput = output
            python.standardError = FileHandle.nullDevice
            try! python.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            python.waitUntilExit()
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                sklearnSeconds = (object["fit_seconds"] as? Double) ?? .nan
                sklearnAUC = (object["holdout_roc_auc"] as? Double) ?? .nan
            }
        }
        print(String(format: "| %d | %.2f | %.6f | %.2f | %.6f | %.1fx |", count, swift.seconds, swift.auc,
                     sklearnSeconds, sklearnAUC, sklearnSeconds / swift.seconds))
    }
    if jobRecords > 0 {
        let directory = URL(fileURLWithPath: Posix.executablePath()).deletingLastPathComponent()
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-forest-bench-\(getpid())").path
        try! FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        let policy = workspace + "/default.toml"
        try! defaultPolicyText.replacingOccurrences(of: "dir = \"logs\"", with: "dir = \"\(workspace)/logs\"")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let job = EtlBench.runJob(binary: directory.appendingPathComponent("cidp").path, workspace: workspace,
                                  policy: policy, records: jobRecords)
        print("")
        print(String(format: "cidp up --records %d (ETL and training, start to stop): %.2f s; trainer peak RSS %.1f MiB",
                     jobRecords, job.seconds, Double(job.peakRSS["trainer"] ?? 0) / 1024))
    }
}
