import Foundation
import Wire
import Workers

/// "Corruption ETL Test": poisoned records (impossible readings, flipped labels) and malformed
/// API bodies in a job. The integrity gates must stop the chain before anything poisoned is
/// loaded or trained on: `cidp up` exits 1 naming the gate, the batch and a reason; the batch is
/// in `etl_quarantine`; every fact row is clean; no model covers the quarantined batch.
///
/// Written against the gates' contract (issue #5): `etl_quarantine(batch_id, gate, action,
/// reason, evidence, record_count, records, quarantined_at, resumed_at)`, stderr naming
/// `gate 'record'` (or `gate record`). Without the gates this drill fails, and says why.
struct CorruptionDrill: Drill {
    static let name = "corruption"
    static let scenario = "1 % poisoned records and 5 % malformed API bodies in a job (--sim-fault poison=0.01, malformed=0.05)"
    /// The issue's rate. A quarter of the poison is a flipped label alone, which no record check
    /// can see; at 1 % every batch also holds impossible readings, so the record gate stops the
    /// chain at the first poisoned batch. (Rare lone label flips are the promotion guard's
    /// business: a model trained on them is rejected when its metrics drop.)
    static let faultSettings = ["poison=0.01", "malformed=0.05"]

    func run(_ context: DrillContext, report: inout DrillReport) throws {
        var faults = SimulatorFaults()
        for setting in Self.faultSettings { faults.apply(try SimulatorFaults.parse(setting)) }
        // The simulator decides poison per (seed, record index): the same decisions, computed here.
        let generator = TelemetryGenerator(seed: context.seed, count: context.records)
        var poisoned: [RowKey: (index: Int, record: TelemetryRecord)] = [:]
        for index in 0..<context.records {
            if let record = generator.poisonedRecord(at: index, faults: faults) { poisoned[RowKey(record)] = (index, record) }
        }
        let page = context.policy.pageSize
        let firstPoisonedBatch = poisoned.values.map { $0.index / page + 1 }.min()
        context.note("\(poisoned.count) of \(context.records) records are poisoned, the first in batch \(firstPoisonedBatch.map(String.init) ?? "-")")

        let tree = try context.startTree(context.jobOptions + Self.faultSettings.flatMap { ["--sim-fault", $0] })
        let ending = tree.waitForExit(timeout: context.patience)
        context.checkExit(ending, expected: 1, how: "(halted by an integrity gate)", tree: tree, report: &report)
        checkGateNamed(tree, report: &report)

        let quarantine = QuarantineTable(path: context.sandbox.databasePath)
        report.check("batch quarantined", quarantine.rows.count >= 1,
                     expected: "≥ 1 row in etl_quarantine (batch_id, gate, action, reason, …)",
                     observed: quarantine.summary)
        let stoppedAt = quarantine.rows.map(\.batchID).min()
        report.check("halted at the first poisoned batch", stoppedAt != nil && stoppedAt == firstPoisonedBatch.map(Int64.init),
                     expected: "the quarantined batch is the first with a poisoned record (batch \(firstPoisonedBatch.map(String.init) ?? "-"))",
                     observed: stoppedAt.map { "batch \($0) quarantined" } ?? "nothing quarantined")

        let rows: [TelemetryRecord]
        let models: [ModelRecord]
        do {
            let warehouse = try Warehouse(path: context.sandbox.databasePath, busyTimeout: .seconds(5))
            rows = try warehouse.rows()
            models = try warehouse.listModels()
        } catch {
            report.check("fact table", false, expected: "a readable warehouse", observed: "\(error)")
            return
        }
        let clean = TableComparison(observed: rows, expected: ReferenceTable.rows(seed: context.seed, count: context.records),
                                    requireEveryExpectedRow: false)
        report.check("fact rows clean", clean.rowsPresentAreClean,
                     expected: "every row of fact_telemetry_features equal to the fault-free record for its key",
                     observed: clean.summary)
        let before = stoppedAt.map { Int($0 - 1) * page } ?? 0
        report.check("batches before it loaded", stoppedAt != nil && rows.count == before,
                     expected: "the \(before) records of the batches before the quarantined one in the fact table",
                     observed: "\(rows.count) rows")
        let loadedPoison = rows.filter { row in
            guard let served = poisoned[RowKey(row)]?.record else { return false }
            return row.flowRate == served.flowRate && row.pressure == served.pressure
                && row.temperature == served.temperature && row.failure == served.failure
        }
        report.check("no poisoned row loaded", loadedPoison.isEmpty,
                     expected: "none of the \(poisoned.count) poisoned records in fact_telemetry_features",
                     observed: "\(loadedPoison.count) poisoned rows loaded"
                        + (loadedPoison.first.map { " (e.g. \(RowKey($0).description), failure \($0.failure): a flipped label)" } ?? ""))
        let quarantinedBatch = quarantine.rows.map(\.batchID).min()
        let trainedOnIt = models.filter { model in quarantinedBatch.map { model.watermarkBatch >= UInt64($0) } ?? true }
        report.check("no model on quarantined data", trainedOnIt.isEmpty,
                     expected: "ml_models empty, or no model with watermark ≥ the quarantined batch",
                     observed: models.isEmpty ? "ml_models empty"
                        : models.map { "model \($0.version) (\($0.status.rawValue)) on \($0.rowCount) rows, watermark batch \($0.watermarkBatch)" }
                            .joined(separator: "; ") + (quarantinedBatch.map { "; quarantined batch \($0)" } ?? "; no quarantined batch"))
        report.keyEvidence = [
            "cidp up " + (ending.map { "\($0)" } ?? "did not end"),
            quarantine.problem == nil ? "\(quarantine.rows.count) quarantined" : "no etl_quarantine",
            "\(loadedPoison.count) poisoned rows loaded",
            "\(models.count) models",
        ]
    }

    /// `gate named`: `cidp up`'s own error line (`cidp: etl halted by transformer: gate 'record'
    /// quarantined batch N: reason`) names the record gate, the batch and a reason.
    private func checkGateNamed(_ tree: TreeUnderTest, report: inout DrillReport) {
        let own = tree.ownErrorLines.last ?? ""
        let named = own.contains("gate 'record'")
            && own.range(of: #"batch \d+: \S"#, options: .regularExpression) != nil
        report.check("gate named", named,
                     expected: "cidp up's error line names gate 'record', the batch and a reason",
                     observed: own.isEmpty ? "no error line from cidp up" : own)
    }
}
