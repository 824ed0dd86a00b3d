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
        var rows = [["VERSION", "STATUS", "KIND", "CREATED", "ROWS", "ROC-AUC", "PRECISION", "RECALL", "F1", "BRIER",
                     "RISK/OBSERVED", "DATA", "REASON"]]
        for model in models.sorted(by: { $0.version > $1.version }) {
            let m = model.metrics
            rows.append(["\(model.version)", model.status.rawValue, model.kind.rawValue, model.createdAt, "\(model.rowCount)",
                         Self.format(m.rocAUC), Self.format(m.precision), Self.format(m.recall), Self.format(m.f1),
                         m.brier.map(Self.format) ?? "-", Self.riskAgainstObserved(m) ?? "-",
                         String(model.dataFingerprint.prefix(12)), model.reason ?? ""])
        }
        TextTable.lines(rows).forEach { print($0) }
        // The serving model's calibration: its reliability on the holdout.
        if let serving = models.first(where: { $0.status == .serving }), let bins = serving.metrics.reliability {
            print("")
            print("calibration of version \(serving.version): \(serving.metrics.calibration ?? "none"); holdout reliability:")
            var table = [["PREDICTED", "ROWS", "MEAN RISK", "OBSERVED"]]
            for bin in bins where bin.count > 0 {
                table.append([String(format: "%.1f-%.1f", bin.lower, bin.upper), "\(bin.count)",
                              Self.percent(bin.meanPredicted), Self.percent(bin.observedRate)])
            }
            TextTable.lines(table).forEach { print($0) }
        }
        // Under model = "best": what the serving model was judged against.
        if let serving = models.first(where: { $0.status == .serving }), let candidates = serving.metrics.candidates {
            print("")
            print("version \(serving.version) serves the higher holdout ROC-AUC of the models fitted on its split:")
            var table = [["KIND", "ROC-AUC", "F1", "BRIER", "FIT S"]]
            for figures in candidates {
                table.append([figures.kind.rawValue + (figures.kind == serving.kind ? " (serving)" : ""), Self.format(figures.rocAUC),
                              Self.format(figures.f1), figures.brier.map(Self.format) ?? "-",
                              figures.fitSeconds.map { String(format: "%.2f", $0) } ?? "-"])
            }
            TextTable.lines(table).forEach { print($0) }
        }
    }

    static func percent(_ value: Double) -> String { String(format: "%.2f %%", value * 100) }

    /// `6.21 % / 6.33 %`: the holdout's mean calibrated risk and its observed failure rate.
    static func riskAgainstObserved(_ m: ModelMetrics) -> String? {
        guard let risk = m.holdoutMeanRisk, let rate = m.holdoutFailureRate else { return nil }
        return "\(percent(risk)) / \(percent(rate))"
    }

    static func format(_ value: Double) -> String { String(format: "%.4f", value) }

    /// One line: version, status, rows and the holdout metrics (with the calibration's, when recorded).
    static func describe(_ model: ModelRecord) -> String {
        let m = model.metrics
        return "version \(model.version) (\(model.status.rawValue)) on \(model.rowCount) rows: ROC-AUC \(format(m.rocAUC)), "
            + "precision \(format(m.precision)), recall \(format(m.recall)), F1 \(format(m.f1)) "
            + "(holdout \(m.testRows) rows: TP \(m.truePositives), FP \(m.falsePositives), "
            + "TN \(m.trueNegatives), FN \(m.falseNegatives))"
            + (m.brier.map { ", Brier \(format($0))" } ?? "")
            + (riskAgainstObserved(m).map { ", mean risk / observed \($0)" } ?? "")
    }
}
