import ArgumentParser
import Foundation
import Supervisor
import Workers

/// `cidp backup`: a consistent online copy of the warehouse, verified, while the tree may run.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the warehouse online (safe while 'cidp up' runs) to a new file and verify the copy.",
        discussion: """
            The copy is verified with PRAGMA integrity_check before it gets its name. Stale .partial files \
            of this warehouse (left by a killed backup) are removed first, in the destination's directory \
            and in the trainer's default backups/ beside the warehouse.
            """)

    @Option(help: "The SQLite warehouse file.") var db: String = "database/industrial_dwh.sqlite"
    @Option(help: "The new file (refused if it exists); default backups/<db name>-YYYYMMDD-HHMMSS.sqlite (UTC).")
    var to: String?

    func run() throws {
        let stem = Warehouse.backupStem(of: db)
        let destination = to ?? "backups/" + Warehouse.backupFileName(prefix: stem, at: Int64(time(nil)))
        let report: BackupReport
        let stale: [String]
        do {
            // Only `.partial` files no backup holds a lock on are removed: a running trainer's are safe.
            let directory = Warehouse.parentDirectory(of: destination)
            let series = [
                BackupSeries(directory: directory, prefix: stem + "-", suffix: ".sqlite", acceptsSecondStamps: true),
                BackupSeries(warehouse: db, kind: BackupSeries.preTrainingKind, in: directory),
                BackupSeries(warehouse: db, kind: BackupSeries.preTrainingKind, in: Warehouse.parentDirectory(of: db) + "/backups"),
            ]
            var removed: [String] = []
            for series in Set(series) { removed += try series.removeStalePartials() }
            stale = removed
            report = try Warehouse.backup(from: db, to: destination)
        } catch {
            throw CLIExit.usage("backup failed, no file written: \(error)")
        }
        print("backup \(report.path): \(report.pages) pages, \(report.factRows) fact rows, "
              + "\(report.predictionRows) predictions, \(report.models) models, integrity_check \(report.integrity)"
              + (stale.isEmpty ? "" : "; removed \(stale.count) stale .partial file\(stale.count == 1 ? "" : "s")"))
    }
}

/// `cidp restore`: replaces the warehouse with a verified backup while no supervisor runs.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace the warehouse with a backup, verified first; refused while a supervisor runs.",
        discussion: """
            The backup is verified with PRAGMA integrity_check first: a corrupt one is refused and nothing \
            changes. The replaced warehouse is kept beside it as <db>.before-restore-YYYYMMDD-HHMMSS-mmm \
            (UTC; -N added if that name is taken), the newest \(Warehouse.safetyCopiesKept) such copies kept.
            """)

    @Argument(help: "The backup file.") var backup: String
    @Option(help: "The SQLite warehouse file to replace.") var db: String = "database/industrial_dwh.sqlite"
    @OptionGroup var control: RunDirectoryOption

    func run() throws {
        let runDirectory = control.runDirectory
        let refusal = "cannot restore while a supervisor is running in '\(runDirectory.path)'; stop it first ('cidp stop')"
        if (try? ControlClient(runDirectory: runDirectory).send(.status)) != nil { throw CLIExit.usage(refusal) }
        // Held until the process exits: no `cidp up` can start on this run directory, nor on this
        // warehouse from any run directory, mid-restore; and a tree running on the warehouse from
        // another run directory refuses the restore (its loader would go on committing into the
        // replaced file).
        var created = CreatedPaths()
        let lock: RunDirectory.Lock
        let warehouseLock: WarehouseLock
        do {
            do {
                lock = try runDirectory.acquire(created: &created)
            } catch where error.code == .alreadyRunning {
                throw CLIExit.usage(refusal + " (\(error.detail ?? "unknown pid"))")
            } catch {
                throw CLIExit.usage("\(error)")
            }
            warehouseLock = try WarehouseLock(database: db, created: &created)
        } catch {
            created.removeAll()
            throw error
        }
        lock.announce()
        warehouseLock.announceRestore()
        defer { withExtendedLifetime((lock, warehouseLock)) {} }
        let report: RestoreReport
        do {
            report = try Warehouse.restore(backup, over: db)
        } catch {
            // Refused (a corrupt backup, …): nothing changed, nor left behind by the locks.
            created.removeAll()
            throw CLIExit.usage("restore failed: \(error)")
        }
        let restored = report.restored
        let deleted = report.deletedSafetyCopies.count
        print("restored \(db) from \(backup): \(restored.factRows) fact rows, \(restored.predictionRows) predictions, "
              + "\(restored.models) models, integrity_check \(restored.integrity); "
              + (report.safetyCopy.map { "the replaced warehouse is kept as \($0)" } ?? "there was no warehouse to replace")
              + (deleted == 0 ? "" : " (\(deleted) older cop\(deleted == 1 ? "y" : "ies") deleted)"))
        if let failure = report.rotationFailure {
            FileHandle.standardError.write(Data("cidp restore: warning: older copies not deleted: \(failure)\n".utf8))
        }
    }
}
