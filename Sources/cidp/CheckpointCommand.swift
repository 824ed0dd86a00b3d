import ArgumentParser
import Foundation
import OperatorText
import Supervisor
import Wire
import Workers

/// `cidp checkpoint show|rewind`: where the chain resumes, and setting it back to a batch.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Show where the chain resumes, or rewind the warehouse to a batch.",
        subcommands: [Show.self, Rewind.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the checkpoint: the last batch, the source position, the counts, the last batches.")

        @Option(help: "The SQLite warehouse file.") var db: String = "database/industrial_dwh.sqlite"
        @Option(help: "How many of the last batches to list.") var batches: Int = 5

        func run() throws {
            guard Warehouse.exists(db) else { throw CLIExit.usage("--db: no warehouse at '\(db)'") }
            let checkpoint: Checkpoint?
            let recent: [Warehouse.BatchSummary]
            do {
                checkpoint = try Warehouse.inspect(path: db)
                recent = try Warehouse(readingOnly: db, busyTimeout: .seconds(5)).recentBatches(limit: max(0, batches))
            } catch {
                throw CLIExit.usage("--db: \(error)")
            }
            guard let checkpoint else {
                print("\(db): nothing committed yet; the next run starts at the source's first page")
                return
            }
            print("\(db): last batch \(checkpoint.batchID); resumes at \(escapedForTerminal(checkpoint.position.description)); "
                  + "\(checkpoint.rowsLoaded) rows loaded, \(checkpoint.rowsDropped) dropped; "
                  + "transformer state \(checkpoint.windowState.count) bytes")
            guard !recent.isEmpty else { return }
            let header = ["BATCH", "COMMITTED", "EXTRACTED", "INSERTED", "DUPLICATE", "DROPPED", "QUARANTINED", "POSITION AFTER"]
            let rows = recent.map { batch in
                ["\(batch.batchID)", batch.committedAt, "\(batch.extracted)", "\(batch.inserted)", "\(batch.duplicates)",
                 "\(batch.dropped)", "\(batch.quarantined)", escapedForTerminal(batch.position.description)]
            }
            for line in TextTable.lines([header] + rows) { print(line) }
        }
    }

    struct Rewind: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewind the warehouse to a batch: the rows, batches and quarantine after it removed, in one transaction.",
            discussion: """
                Refused while a tree runs on the warehouse or in the run directory. A verified backup is \
                taken first (backups/<db name>-before-rewind-YYYYMMDD-HHMMSS-mmm.sqlite beside the \
                warehouse). The next run extracts from the source position batch N left, with its \
                transformer state. --to-batch 0 empties the warehouse's ETL tables.
                """)

        @Option(help: "The batch to end at.") var toBatch: UInt64
        @Option(help: "The SQLite warehouse file.") var db: String = "database/industrial_dwh.sqlite"
        @Flag(help: "Print what would be removed, change nothing.") var dryRun = false
        @OptionGroup var control: RunDirectoryOption

        func run() throws {
            guard Warehouse.exists(db) else { throw CLIExit.usage("--db: no warehouse at '\(db)'") }
            // The same locks as a start: no tree may be running on this warehouse, whatever its run directory.
            var created = CreatedPaths()
            let runLock: RunDirectory.Lock
            let warehouseLock: WarehouseLock
            do {
                do { runLock = try control.runDirectory.acquire(created: &created) } catch {
                    throw CLIExit.usage("cannot rewind: \(error)")
                }
                warehouseLock = try WarehouseLock(database: db, created: &created)
            } catch {
                created.removeAll()
                throw error
            }
            defer { withExtendedLifetime((runLock, warehouseLock)) {} }
            let warehouse: Warehouse
            let plan: Warehouse.Rewind
            do {
                warehouse = try Warehouse(path: db, busyTimeout: .seconds(5))
                plan = try warehouse.rewindPlan(toBatch: toBatch)
            } catch {
                created.removeAll()
                throw CLIExit.usage("\(error)")
            }
            let what = "batches \(plan.toBatch + 1)…\(plan.fromBatch): \(plan.factRows) fact rows, \(plan.predictions) "
                + "predictions, \(plan.quarantinedBatches) quarantined batches (\(plan.openHalts) open halts)"
            guard plan.fromBatch > plan.toBatch else {
                created.removeAll()
                print("\(db) is at batch \(plan.fromBatch) already; nothing to rewind")
                return
            }
            if dryRun {
                created.removeAll()
                print("would remove \(what); the next run would resume at \(escapedForTerminal(plan.position.description))")
                return
            }
            runLock.announce()
            warehouseLock.announce(runDirectory: control.runDirectory)
            let backup: BackupReport
            do {
                let series = BackupSeries(warehouse: db, kind: "before-rewind", in: Warehouse.parentDirectory(of: db) + "/backups")
                backup = try Warehouse.backup(from: db, into: series)
            } catch {
                throw CLIExit(code: ExitCode.failure, message: "no rewind without a verified backup: \(error)")
            }
            do {
                let done = try warehouse.rewind(toBatch: toBatch)
                print("rewound \(db) to batch \(done.toBatch): removed batches \(done.toBatch + 1)…\(done.fromBatch), "
                      + "\(done.factRows) fact rows, \(done.predictions) predictions, \(done.quarantinedBatches) quarantined "
                      + "batches; the next run resumes at \(escapedForTerminal(done.position.description)); "
                      + "the warehouse before is kept as \(backup.path)")
            } catch {
                throw CLIExit(code: ExitCode.failure, message: "\(error) (the backup \(backup.path) was taken)")
            }
        }
    }
}

/// Text a source wrote (a cursor), shown with its control characters escaped: nothing it holds
/// reaches the terminal as a control sequence.
private func escapedForTerminal(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0x20..<0x7F, 0xA0...: out.unicodeScalars.append(scalar)
        default: out += "\\x" + String(scalar.value, radix: 16)
        }
    }
    return out
}
