import Posix
import Foundation
import Supervisor
import Glibc
import Workers

/// `cidp-bench models`: on the realistic profile, per record count, a real `cidp up` job (ETL,
/// training, calibration, publishing; the trainer's peak RSS sampled), then, side by side on the
/// rows that warehouse holds and the trainer's split, CIDP's model as the trainer recorded it
/// (`ml_models.metrics`: fit seconds, holdout ROC-AUC, F1 at 0.5, Brier of the calibrated risk) and
/// scikit-learn's RandomForestClassifier (n_jobs=2) and HistGradientBoostingClassifier, fitted by
/// `benchmarks/warehouse_models.py` (run from the repository's root, with /usr/bin/python3).
/// `model`: the trainer's `model` key (`forest`, `boosted` or `best`).
func runModelsBench(records: [Int], model trainerModel: String) {
    let directory = URL(fileURLWithPath: Posix.executablePath()).deletingLastPathComponent()
    let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-models-bench-\(getpid())").path
    try! FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    let policy = workspace + "/default.toml"
    let trainerTable = "[workers.trainer]\nrole = \"trainer\"\n"
    guard defaultPolicyText.contains(trainerTable) else { fail("policies/default.toml has no plain [workers.trainer] table") }
    try! defaultPolicyText.replacingOccurrences(of: "dir = \"logs\"", with: "dir = \"\(workspace)/logs\"")
        .replacingOccurrences(of: trainerTable, with: trainerTable + "model = \"\(trainerModel)\"\n")
        .write(toFile: policy, atomically: true, encoding: .utf8)
    // F1 at 0.5 by the trainer's rule (probability >= 0.5); scikit-learn's own `predict`
    // (argmax, ties at exactly 0.5 to class 0) in parentheses.
    print("| records | warehouse rows | model | fit s | holdout ROC-AUC | F1 (p ≥ 0.5) | Brier |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    var peaks: [String] = []
    var comparisons: [String] = []
    for count in records {
        let job = EtlBench.runJob(binary: directory.appendingPathComponent("cidp").path, workspace: workspace,
                                  policy: policy, records: count, extraArguments: ["--sim-profile", "realistic"],
                                  allRowsLoaded: false)
        let db = workspace + "/etl-\(count).sqlite"
        let warehouse = try! Warehouse(path: db, busyTimeout: .seconds(5))
        guard let model = try! warehouse.servingModel() else { fail("no serving model after cidp up --records \(count)") }
        let rows = try! warehouse.rowCount()
        let m = model.metrics
        // Under `best` the trainer fitted both kinds on this split and recorded both.
        let fitted = m.candidates ?? [CandidateFigures(kind: model.kind, rocAUC: m.rocAUC, f1: m.f1, brier: m.brier,
                                                       fitSeconds: m.fitSeconds)]
        for figures in fitted {
            let served = figures.kind == model.kind ? ", served" : ""
            print(String(format: "| %d | %lld | CIDP %@ | %.2f | %.4f | %.4f | %.4f (calibrated%@) |", count, rows,
                         figures.kind.rawValue, figures.fitSeconds ?? .nan, figures.rocAUC, figures.f1, figures.brier ?? .nan, served))
        }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["benchmarks/warehouse_models.py", "--db", db, "--models", "rf,hgb", "--n-jobs", "2"]
        let output = Pipe()
        python.standardOutput = output
        try! python.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        guard python.terminationStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let models = object["models"] as? [String: [String: Double]] else {
            fail("benchmarks/warehouse_models.py failed on \(db) (exit \(python.terminationStatus))")
        }
        guard (object["rows"] as? Int) == Int(rows), (object["test_rows"] as? Int) == m.testRows else {
            fail("scikit-learn saw \(object["rows"] ?? "?") rows / \(object["test_rows"] ?? "?") test rows, CIDP \(rows) / \(m.testRows)")
        }
        for (name, label) in [("rf", "scikit-learn RF (n_jobs=2)"), ("hgb", "scikit-learn HGB")] {
            guard let r = models[name] else { continue }
            print(String(format: "| %d | %lld | %@ | %.2f | %.4f | %.4f (predict: %.4f) | %.4f |", count, rows, label,
                         r["fit_seconds"] ?? .nan, r["roc_auc"] ?? .nan, r["f1_at_least_half"] ?? .nan, r["f1"] ?? .nan,
                         r["brier"] ?? .nan))
        }
        // Each CIDP model beside its scikit-learn counterpart: the AUC difference, the fit-time ratio.
        for figures in fitted {
            let peer = figures.kind == .forest ? "rf" : "hgb"
            guard let r = models[peer], let peerAUC = r["roc_auc"], let peerSeconds = r["fit_seconds"] else { continue }
            comparisons.append(String(format: "%d records: CIDP %@ vs %@: ROC-AUC %+.4f, fit time %.2f×", count,
                                      figures.kind.rawValue, peer == "rf" ? "RF" : "HGB", figures.rocAUC - peerAUC,
                                      (figures.fitSeconds ?? .nan) / peerSeconds))
        }
        peaks.append(String(format: "%d records: job %.1f s, trainer peak RSS %.1f MiB", count, job.seconds,
                            Double(job.peakRSS["trainer"] ?? 0) / 1024))
        try? FileManager.default.removeItem(atPath: db)
    }
    print("")
    comparisons.forEach { print($0) }
    peaks.forEach { print($0) }
}
