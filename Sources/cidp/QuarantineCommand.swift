import ArgumentParser
import Foundation
import OperatorText
import Workers

/// `cidp quarantine`: the batches the integrity gates set aside, newest first, and with
/// `--batch N` one of them whole — reason, crash evidence and its raw records.
struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "List the batches the integrity gates quarantined, or show one with its records.")

    @Option(help: "The SQLite warehouse file.") var db: String = "database/industrial_dwh.sqlite"
    @Option(help: "Show this quarantined batch whole: reason, evidence and its records as JSON.") var batch: UInt64?
    @Option(help: "How many batches to list, newest first.") var limit: Int = 50

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit expects a count >= 1, got \(limit)") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CLIExit.usage("no warehouse at \(db) (run 'cidp up' first, or pass --db)")
        }
        let warehouse: Warehouse
        let entries: [QuarantineEntry]
        do {
            warehouse = try Warehouse(readingOnly: db, busyTimeout: .seconds(5))
            entries = try warehouse.quarantine(limit: batch == nil ? limit : Int.max)
        } catch {
            throw CLIExit.usage("\(error)")
        }
        if let batch {
            guard let entry = entries.first(where: { $0.batchID == batch }),
                  let records = try? warehouse.quarantinedRecords(batchID: batch) else {
                throw CLIExit.usage("--batch \(batch): no quarantined batch \(batch) in \(db)")
            }
            // Reason, evidence and records quote the source and the workers: escaped; the records
            // stay JSON (its own escapes, never doubled).
            print(OperatorText.escaped("batch \(entry.batchID): gate '\(entry.gate)', \(entry.action.rawValue), "
                + "\(entry.recordCount) records, quarantined \(entry.quarantinedAt)"
                + (entry.resumedAt.map { ", resumed \($0)" } ?? "")))
            print("reason: " + OperatorText.escaped(entry.reason))
            if let evidence = entry.evidence { print("evidence: " + OperatorText.escaped(evidence)) }
            print(OperatorText.escapedJSON(records))
            return
        }
        guard !entries.isEmpty else {
            print("nothing quarantined in \(db)")
            return
        }
        var rows = [["BATCH", "GATE", "ACTION", "RECORDS", "QUARANTINED", "STATE", "REASON"]]
        for entry in entries {
            let state = entry.isOpenHalt ? "halted" : entry.resumedAt.map { "resumed \($0)" } ?? "-"
            rows.append(["\(entry.batchID)", entry.gate, entry.action.rawValue, "\(entry.recordCount)",
                         entry.quarantinedAt, state, entry.reason])
        }
        TextTable.lines(rows).forEach { print($0) }
        let open = entries.filter(\.isOpenHalt).count
        if open > 0 {
            print("\(open) open halt\(open == 1 ? "" : "s"): the chain stays down until 'cidp resume' (running) or 'cidp up --resume'")
        }
    }
}
