import Foundation
import Workers

/// What `cidp up` prints when the tree has stopped: the warehouse as the loader and the
/// trainer left it.
struct JobSummary {
    var text: String

    /// Nil when there is no warehouse to read (a tree without a loader).
    init?(databasePath: String, elapsed: Duration) {
        guard let warehouse = try? Warehouse(path: databasePath, busyTimeout: .seconds(5)),
              let rows = try? warehouse.rowCount() else { return nil }
        let checkpoint = try? warehouse.checkpoint()
        // Not `integrityCheck()`: it reads the whole file, and the job's time would include it.
        let quarantined = (try? warehouse.batchTotals())?.quarantined ?? 0
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var lines = [
            "summary: \(rows) rows in fact_telemetry_features (\(databasePath)); "
                + "\(checkpoint?.rowsDropped ?? 0) dropped (missing readings, exact duplicates); \(quarantined) quarantined; "
                + "last batch \(checkpoint?.batchID ?? 0); " + String(format: "%.2f s", seconds),
        ]
        if let model = try? warehouse.servingModel() {
            lines.append("model: " + ModelsCommand.describe(model))
        }
        text = lines.joined(separator: "\n")
    }
}
