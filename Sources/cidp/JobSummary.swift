import Foundation
import Supervisor
import Workers

/// What `cidp up` prints when the tree has stopped: what this run loaded, and the warehouse as
/// the loader and the trainer left it.
struct JobSummary {
    var text: String

    /// Nil when there is no warehouse to read.
    /// - Parameters:
    ///   - before: the checkpoint before this run (nil for a new warehouse): the baseline of "this run".
    ///   - exitCode: how the run ended; the first word says it (`summary`, `interrupted`, `failed`).
    init?(databasePath: String, before: Checkpoint?, elapsed: Duration, exitCode: Int32) {
        guard let warehouse = try? Warehouse(readingOnly: databasePath, busyTimeout: .seconds(5)),
              let rows = try? warehouse.rowCount() else { return nil }
        let checkpoint = try? warehouse.checkpoint()
        // Not `integrityCheck()`: it reads the whole file, and the job's time would include it.
        let quarantined = (try? warehouse.batchTotals())?.quarantined ?? 0
        let loadedThisRun = (checkpoint?.rowsLoaded ?? 0) - (before?.rowsLoaded ?? 0)
        let droppedThisRun = (checkpoint?.rowsDropped ?? 0) - (before?.rowsDropped ?? 0)
        let batchesThisRun = (checkpoint?.batchID ?? 0) - (before?.batchID ?? 0)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let verdict: String
        switch exitCode {
        case ExitCode.success: verdict = "summary"
        case ExitCode.interrupted: verdict = "interrupted (the next run continues from here)"
        default: verdict = "failed"
        }
        var lines = [
            "\(verdict): this run loaded \(loadedThisRun) rows in \(batchesThisRun) batches (\(droppedThisRun) dropped: "
                + "missing readings, exact duplicates); the warehouse holds \(rows) rows in fact_telemetry_features "
                + "(\(databasePath)), \(quarantined) quarantined records, last batch \(checkpoint?.batchID ?? 0); "
                + String(format: "%.2f s", seconds),
        ]
        if let model = try? warehouse.servingModel() {
            lines.append("model: " + ModelsCommand.describe(model))
        }
        text = lines.joined(separator: "\n")
    }
}
