import Glibc

/// What changes whenever one of CIDP's writers changes a warehouse: the loader's checkpoint
/// (each commit, each quarantined batch, a rewind), the model registry (each model registered,
/// serving or rejected, takes a new version from `sqlite_sequence`, never reused), the quarantine
/// (a batch set aside, a halt resumed). Two files with the same mark hold the same warehouse as far
/// as those writers go: the trainer's backup before training is skipped when the warehouse's mark
/// equals its newest backup's. Not a hash of the content: a row edited by hand is not seen.
public struct ChangeMark: Equatable, Sendable, CustomStringConvertible {
    /// `etl_checkpoint`'s `last_batch_id` (0 without a checkpoint).
    public var lastBatchID: Int64
    /// The checkpoint's cursor, `rows_loaded`, `rows_dropped` and `updated_at` (a rewound and
    /// reloaded warehouse differs here).
    public var cursor: String
    public var rowsLoaded: Int64
    public var rowsDropped: Int64
    public var updatedAt: String
    /// The highest `ml_models.version` ever assigned (`sqlite_sequence`; 0 if none), and the rows.
    public var modelSequence: Int64
    public var models: Int64
    /// Rows of `etl_quarantine`, and how many of them an operator resumed.
    public var quarantined: Int64
    public var resumed: Int64

    /// A mark with every field given.
    public init(lastBatchID: Int64, cursor: String, rowsLoaded: Int64, rowsDropped: Int64, updatedAt: String,
                modelSequence: Int64, models: Int64, quarantined: Int64, resumed: Int64) {
        self.lastBatchID = lastBatchID
        self.cursor = cursor
        self.rowsLoaded = rowsLoaded
        self.rowsDropped = rowsDropped
        self.updatedAt = updatedAt
        self.modelSequence = modelSequence
        self.models = models
        self.quarantined = quarantined
        self.resumed = resumed
    }

    /// `batch 12 (1200 loaded, 3 dropped, 2025-01-02 03:04:05), model version 4 (4 models), 1 quarantined (1 resumed)`.
    public var description: String {
        "batch \(lastBatchID) (\(rowsLoaded) loaded, \(rowsDropped) dropped, \(updatedAt.isEmpty ? "no checkpoint" : updatedAt)), "
            + "model version \(modelSequence) (\(models) models), \(quarantined) quarantined (\(resumed) resumed)"
    }
}

/// What `Warehouse.backUpIfChanged` did.
public enum AutomaticBackup: Equatable, Sendable {
    /// A new backup, verified, under `report.path`; `deleted`: the older ones rotation removed;
    /// `removedPartials`: stale `.partial` files of the series removed first.
    case taken(BackupReport, deleted: [String], removedPartials: [String])
    /// The warehouse's mark equals that of the newest backup, `newest`, verified when it was
    /// made: no new copy was needed.
    case unchanged(newest: String, mark: ChangeMark, deleted: [String], removedPartials: [String])
}

extension Warehouse {
    /// The warehouse's `ChangeMark`, read from a read-only connection in one read transaction.
    /// A table missing (a file from before a migration) counts as empty.
    /// - Throws: `WarehouseError`: `.noSuchFile`, `.notADatabase`, `.database`.
    public static func changeMark(of path: String) throws(WarehouseError) -> ChangeMark {
        guard access(path, F_OK) == 0 else { throw WarehouseError(.noSuchFile, path: path) }
        let db = try sqlite(path) { () throws(DatabaseError) in try Database(readOnlyPath: path, busyTimeout: .seconds(5)) }
        return try sqlite(path) { () throws(DatabaseError) -> ChangeMark in
            try db.transaction(.deferred) { () throws(DatabaseError) -> ChangeMark in
                let tables = try db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
                var names: Set<String> = []
                while try tables.step() { names.insert(tables.string(at: 0)) }
                var mark = ChangeMark(lastBatchID: 0, cursor: "", rowsLoaded: 0, rowsDropped: 0, updatedAt: "",
                                      modelSequence: 0, models: 0, quarantined: 0, resumed: 0)
                if names.contains("etl_checkpoint") {
                    let checkpoint = try db.prepare(
                        "SELECT last_batch_id, cursor, rows_loaded, rows_dropped, updated_at FROM etl_checkpoint WHERE id = 1")
                    if try checkpoint.step() {
                        mark.lastBatchID = checkpoint.int64(at: 0)
                        mark.cursor = checkpoint.string(at: 1)
                        mark.rowsLoaded = checkpoint.int64(at: 2)
                        mark.rowsDropped = checkpoint.int64(at: 3)
                        mark.updatedAt = checkpoint.string(at: 4)
                    }
                }
                if names.contains("sqlite_sequence") {
                    let sequence = try db.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'ml_models'")
                    _ = try sequence.step()
                    mark.modelSequence = sequence.int64(at: 0)
                }
                if names.contains("ml_models") {
                    let models = try db.prepare("SELECT count(*) FROM ml_models")
                    _ = try models.step()
                    mark.models = models.int64(at: 0)
                }
                if names.contains("etl_quarantine") {
                    let quarantine = try db.prepare("SELECT count(*), count(resumed_at) FROM etl_quarantine")
                    _ = try quarantine.step()
                    mark.quarantined = quarantine.int64(at: 0)
                    mark.resumed = quarantine.int64(at: 1)
                }
                return mark
            }
        }
    }

    /// The backup the trainer takes before each training, in `series` (its own:
    /// `STEM-pre-train-…`, `BackupSeries(warehouse:kind:in:)`):
    ///
    /// 1. removes the series' stale `.partial` files (left by a backup that was killed);
    /// 2. unless the warehouse's `ChangeMark` equals the newest backup's — nothing changed since
    ///    that one was verified —, copies the warehouse into a new member (`backup(from:into:)`:
    ///    a unique name, verified with `PRAGMA integrity_check` before it is linked into place; a
    ///    copy that fails is deleted and this throws);
    /// 3. deletes the older members but the newest `keep`, never the one just made (or, when
    ///    unchanged, the newest). Every member passed `integrity_check` before it got its name, so
    ///    rotation never removes the newest backup that passed it: a crash-looping trainer on a
    ///    corrupt warehouse makes no backup and deletes none, and one on an unchanged warehouse
    ///    copies nothing.
    ///
    /// A newest backup whose mark cannot be read (damaged since) counts as changed: a new copy is made.
    /// - Parameter keep: at least 1.
    /// - Throws: `WarehouseError` from reading the warehouse's mark, the backup or the rotation;
    ///   no training should go ahead then.
    public static func backUpIfChanged(
        _ databasePath: String, into series: BackupSeries, keep: Int, atMilliseconds milliseconds: Int64? = nil,
        pagesPerStep: Int = backupPagesPerStep, onProgress: ((_ remaining: Int, _ total: Int) -> Void)? = nil
    ) throws(WarehouseError) -> AutomaticBackup {
        precondition(keep >= 1, "backUpIfChanged: keep \(keep) (0 means no backups: do not call)")
        let removed = try series.removeStalePartials()
        let mark = try changeMark(of: databasePath)
        if let newest = try series.newest(), (try? changeMark(of: series.path(of: newest))) == mark {
            let deleted = try series.rotate(keep: keep, protecting: [newest])
            return .unchanged(newest: series.path(of: newest), mark: mark, deleted: deleted, removedPartials: removed)
        }
        let report = try backup(from: databasePath, into: series, atMilliseconds: milliseconds,
                                pagesPerStep: pagesPerStep, onProgress: onProgress)
        let name = report.path.split(separator: "/").last.map(String.init) ?? report.path
        let deleted = try series.rotate(keep: keep, protecting: [name])
        return .taken(report, deleted: deleted, removedPartials: removed)
    }
}
