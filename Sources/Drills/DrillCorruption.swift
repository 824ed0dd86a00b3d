import Foundation
import Pipeline
import Wire
import Workers

/// "Corruption ETL Test": clean batches, then poisoned records (impossible readings, flipped
/// labels), with malformed API bodies throughout, in a job. The integrity gates must stop the
/// chain at the first poisoned batch, after loading every batch before it intact: `cidp up`
/// exits 1 naming the gate, the batch and a reason; the batch is in `etl_quarantine`; the fact
/// table is exactly the clean batches, value for value; nothing poisoned is loaded or trained
/// on; and the malformed bodies the extractor retried are counted, at least one.
///
/// The scenario (`CorruptionPlan`) is worked out from the simulator's own decisions: the poison
/// starts after ≥ 2 clean batches (`poison=0.01@FROM`), on which the simulator serves at least
/// one malformed body, so "the batches before it are loaded" is checked on real rows, one of them
/// a page the extractor had to ask for again.
public struct CorruptionDrill: Drill {
    public static let name = "corruption"
    public static let scenario = "clean batches, then 1 % poisoned records, with 25 % malformed API bodies, in a job "
        + "(--sim-fault poison=0.01@FROM, malformed=0.25)"

    public init() {}

    public func run(_ context: DrillContext, report: inout DrillReport) throws {
        let page = context.policy.pageSize
        guard let plan = try CorruptionPlan(seed: context.seed, records: context.records, pageSize: page) else {
            report.check("scenario fits", false,
                         expected: "--records holding ≥ \(CorruptionPlan.minimumCleanBatches + 1) batches of \(page) "
                            + "(\(CorruptionPlan.minimumCleanBatches) clean, then the poisoned one)",
                         observed: "--records \(context.records): \(context.records / page) full batches")
            return
        }
        context.note("poison from record \(plan.poisonFrom): \(plan.cleanBatches) clean batches, on which the simulator "
                     + "serves malformed bodies \(plan.malformedPerCleanBatch.map(String.init).joined(separator: "+")); "
                     + "\(plan.poisoned.count) of \(context.records) records poisoned, the first in batch "
                     + (plan.firstPoisonedBatch.map(String.init) ?? "-"))

        let tree = try context.startTree(context.jobOptions + plan.settings.flatMap { ["--sim-fault", $0] })
        let ending = tree.waitForExit(timeout: context.patience)
        context.checkExit(ending, expected: 1, how: "(halted by an integrity gate)", tree: tree, report: &report)
        checkGateNamed(tree, batch: plan.firstPoisonedBatch, report: &report)

        let quarantine = QuarantineTable(path: context.sandbox.databasePath)
        report.check("batch quarantined", quarantine.rows.count >= 1,
                     expected: "≥ 1 row in etl_quarantine (batch_id, gate, action, reason, …)",
                     observed: quarantine.summary)
        let stoppedAt = quarantine.rows.map(\.batchID).min()
        report.check("halted at the first poisoned batch", stoppedAt != nil && stoppedAt == plan.firstPoisonedBatch.map(Int64.init),
                     expected: "the quarantined batch is the first with a poisoned record (batch \(plan.firstPoisonedBatch.map(String.init) ?? "-"))",
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
        let before = plan.cleanRecords
        let batchesBefore = before / page
        let comparison = TableComparison(observed: rows, expected: ReferenceTable.rows(seed: context.seed, count: before))
        report.check("batches before it loaded", before > 0 && !rows.isEmpty && comparison.isExact,
                     expected: "the \(before) records of batches 1…\(batchesBefore) (the clean ones) in the fact table, "
                        + "each once, value for value (> 0 rows)",
                     observed: comparison.summary)
        let generator = TelemetryGenerator(seed: context.seed, count: context.records)
        let later = Set((before..<context.records).map { RowKey(generator.record(at: $0)) })
        let loadedLater = rows.filter { later.contains(RowKey($0)) }
        report.check("nothing after it loaded", loadedLater.isEmpty,
                     expected: "none of the \(context.records - before) records from batch \(batchesBefore + 1) on in the fact table",
                     observed: "\(loadedLater.count) rows" + (loadedLater.first.map { " (e.g. \(RowKey($0).description))" } ?? ""))
        let loadedPoison = rows.filter { row in
            guard let served = plan.poisoned[RowKey(row)]?.record else { return false }
            return row.flowRate == served.flowRate && row.pressure == served.pressure
                && row.temperature == served.temperature && row.failure == served.failure
        }
        report.check("no poisoned row loaded", loadedPoison.isEmpty,
                     expected: "none of the \(plan.poisoned.count) poisoned records in fact_telemetry_features",
                     observed: "\(loadedPoison.count) poisoned rows loaded"
                        + (loadedPoison.first.map { " (e.g. \(RowKey($0).description), failure \($0.failure): a flipped label)" } ?? ""))

        let extractor = context.policy.name(of: .extractor)
        let malformed = SupervisorLog(directory: context.sandbox.logDirectory).malformedBodiesRetried(by: extractor)
        let isConfigured = plan.faults.malformedRate > 0
        report.check("malformed bodies retried", !isConfigured || !malformed.isEmpty,
                     expected: "≥ 1 malformed body retried by '\(extractor)' (malformed=\(plan.faults.malformedRate); the simulator "
                        + "serves \(plan.malformedBeforePoison) on the \(plan.cleanBatches) clean batches)",
                     observed: "\(malformed.count) malformed bodies retried ('Fetch failed; retrying' in the root's log)"
                        + (malformed.first.map { "; first: \($0)" } ?? ""))

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
            "\(rows.count) rows before batch \(plan.firstPoisonedBatch.map(String.init) ?? "-")",
            "\(malformed.count) malformed bodies retried",
            "\(loadedPoison.count) poisoned rows loaded",
            "\(models.count) models",
        ]
    }

    /// `gate named`: `cidp up`'s own error line (`cidp: etl halted by transformer: gate 'record'
    /// quarantined batch N: reason`) names the record gate, the first poisoned batch and a reason.
    private func checkGateNamed(_ tree: TreeUnderTest, batch: Int?, report: inout DrillReport) {
        let own = tree.ownErrorLines.last ?? ""
        let named = own.contains("gate 'record'") && batch.map { own.contains("batch \($0): ") } == true
            && own.range(of: #"batch \d+: \S"#, options: .regularExpression) != nil
        report.check("gate named", named,
                     expected: "cidp up's error line names gate 'record', batch \(batch.map(String.init) ?? "-") and a reason",
                     observed: own.isEmpty ? "no error line from cidp up" : own)
    }
}
