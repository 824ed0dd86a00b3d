import ArgumentParser
import Foundation
import OperatorText
import Workers

/// `cidp models`: every model the trainer has registered, newest first, with its metrics.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the model versions in the warehouse with their status and holdout metrics.")

    @Option(help: "The SQLite warehouse file.") var db: String = "database/industrial_dwh.sqlite"

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CLIExit.usage("no warehouse at \(db) (run 'cidp up' first, or pass --db)")
        }
        let models: [ModelRecord]
        do {
            models = try Warehouse(readingOnly: db, busyTimeout: .seconds(5)).listModels()
        } catch {
            throw CLIExit.usage("\(error)")
        }
        guard !models.isEmpty else {
            print("no model in \(db) yet")
            return
        }
        var rows = [["VERSION", "STATUS", "CREATED", "ROWS", "ROC-AUC", "PRECISION", "RECALL", "F1", "DATA", "REASON"]]
        for model in models.sorted(by: { $0.version > $1.version }) {
            rows.append(["\(model.version)", model.status.rawValue, model.createdAt, "\(model.rowCount)",
                         Self.format(model.metrics.rocAUC), Self.format(model.metrics.precision),
                         Self.format(model.metrics.recall), Self.format(model.metrics.f1),
                         String(model.dataFingerprint.prefix(12)), model.reason ?? ""])
        }
        TextTable.lines(rows).forEach { print($0) }
    }

    static func format(_ value: Double) -> String { String(format: "%.4f", value) }

    /// One line: version, status, rows and the holdout metrics.
    static func describe(_ model: ModelRecord) -> String {
        let m = model.metrics
        return "version \(model.version) (\(model.status.rawValue)) on \(model.rowCount) rows: ROC-AUC \(format(m.rocAUC)), "
            + "precision \(format(m.precision)), recall \(format(m.recall)), F1 \(format(m.f1)) "
            + "(holdout \(m.testRows) rows: TP \(m.truePositives), FP \(m.falsePositives), "
            + "TN \(m.trueNegatives), FN \(m.falseNegatives))"
    }
}
