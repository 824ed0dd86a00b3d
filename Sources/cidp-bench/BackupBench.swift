// cidp-bench backup: what verifying a backup costs, in one run.
//
//   swift build -c release --static-swift-stdlib && .build/release/cidp-bench backup --records 100000 --records 1000000 --repeats 5
//
// For each N: a warehouse loaded through `Warehouse.commit` with the simulator's N records (1000
// per batch) and a serving model with N predictions (the state the trainer backs up before its
// second training), WAL checkpointed. Then, alternating, `repeats` times each on that file, from a
// fresh read-only connection: `PRAGMA quick_check` (the old verification, and the trainer's gate),
// `PRAGMA integrity_check` (the new one), `Warehouse.verify` (integrity_check plus the shape
// checks and the counts), and a whole `Warehouse.backup` (online copy, verify, fsync, link).
import Foundation
import Pipeline
import Wire
import Workers

enum BackupBench {
    /// Seconds `body` took.
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        let elapsed = start.duration(to: clock.now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Runs `PRAGMA NAME` to the end on a fresh read-only connection; fails unless it answers `ok`.
    static func pragma(_ path: String, _ name: String) {
        do {
            let statement = try Database(readOnlyPath: path, busyTimeout: .seconds(5)).prepare("PRAGMA \(name)")
            var rows: [String] = []
            while try statement.step() { rows.append(statement.string(at: 0)) }
            guard rows == ["ok"] else { fail("\(name) of \(path): \(rows.prefix(3))") }
        } catch {
            fail("\(name) of \(path): \(error)")
        }
    }

    /// The warehouse at `path` with `rows` fact rows and a serving model with `rows` predictions.
    static func build(_ path: String, rows: Int) throws {
        let generator = TelemetryGenerator(seed: 42, count: rows)
        var transformer = GatedTransformer(rules: ValidationRules(), gates: .default)
        let warehouse = try Warehouse(path: path)
        var batchID: UInt64 = 0
        for first in stride(from: 0, to: rows, by: 1000) {
            let page = generator.page(cursor: first, limit: 1000)
            guard case .passed(let outcome) = transformer.process(RecordBatch(batchID: 0, cursor: "", records: page), now: .max) else {
                fail("simulator data failed a gate")
            }
            batchID += 1
            _ = try warehouse.commit(RecordBatch(batchID: batchID, cursor: "\(first + page.count)", records: outcome.output.records),
                                     dropped: 0, windowState: [])
        }
        let data = try warehouse.trainingData()
        let risks = data.labels.map { $0 == 1 ? 0.9 : 0.05 }
        let metrics = ModelMetrics(rocAUC: 1, precision: 1, recall: 1, f1: 1, truePositives: 0, falsePositives: 0,
                                   trueNegatives: 0, falseNegatives: 0, trainRows: rows, testRows: 0)
        _ = try warehouse.publish(
            model: NewModel(parameters: "{}", metrics: metrics, rowCount: Int64(rows), dataFingerprint: data.fingerprint,
                            watermarkBatch: batchID, model: [0], status: .serving, reason: nil),
            predictions: Predictions(data: data, riskScores: risks, predicted: risks.map { $0 >= 0.5 ? 1 : 0 }))
        // Closing the last connection checkpoints the WAL into the file and removes it.
    }
}

@MainActor
func runBackupBench(records: [Int], repeats: Int) {
    let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-backup-bench-\(getpid())").path
    try! FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    func range(_ values: [Double]) -> String {
        String(format: "%.3f (%.3f–%.3f)", median(values), values.min() ?? .nan, values.max() ?? .nan)
    }
    print("| fact rows (+ as many predictions) | file MiB | quick_check s | integrity_check s | integrity ÷ quick | "
          + "Warehouse.verify s | whole backup s (copy + verify + fsync) | change mark ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for count in records {
        let path = workspace + "/dwh-\(count).sqlite"
        do { try BackupBench.build(path, rows: count) } catch { fail("building the warehouse: \(error)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var quick: [Double] = [], integrity: [Double] = [], verify: [Double] = [], backup: [Double] = [], mark: [Double] = []
        for round in 0..<repeats {
            // Alternating, so the machine's drift reaches every measurement alike.
            quick.append(BackupBench.seconds { BackupBench.pragma(path, "quick_check") })
            integrity.append(BackupBench.seconds { BackupBench.pragma(path, "integrity_check") })
            verify.append(BackupBench.seconds { _ = try? Warehouse.verify(path) })
            let copy = workspace + "/copy-\(round).sqlite"
            backup.append(BackupBench.seconds {
                do { _ = try Warehouse.backup(from: path, to: copy) } catch { fail("backup: \(error)") }
            })
            unlink(copy)
            mark.append(BackupBench.seconds { _ = try? Warehouse.changeMark(of: path) } * 1000)
        }
        let ratios = zip(integrity, quick).map { $0 / $1 }
        print("| \(count) | " + String(format: "%.1f", Double(size) / 1_048_576) + " | \(range(quick)) | \(range(integrity)) | "
              + String(format: "%.2f (%.2f–%.2f)", median(ratios), ratios.min() ?? .nan, ratios.max() ?? .nan)
              + " | \(range(verify)) | \(range(backup)) | " + String(format: "%.1f", median(mark)) + " |")
        unlink(path)
    }
}
