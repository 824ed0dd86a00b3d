import CSQLite
#if canImport(Glibc)
import Glibc
#endif

extension Warehouse {
    /// Checks an existing warehouse file before a start creates or changes anything: that it is a
    /// CIDP warehouse (tables of the expected shapes for the migrations it records, no unknown
    /// migration, a checkpoint that decodes), and reads its checkpoint. Never creates the file and
    /// never writes it (`PRAGMA query_only`); opened read-write so that SQLite leaves no `-wal` or
    /// `-shm` file behind when it closes, as a read-only connection would.
    /// - Returns: the checkpoint; nil for a warehouse nothing was committed to yet.
    /// - Throws: `WarehouseError` naming the file and the problem.
    public static func inspect(path: String) throws(WarehouseError) -> Checkpoint? {
        let db = try sqlite(path) { () throws(DatabaseError) in
            let db = try Database(existingPath: path, busyTimeout: .seconds(5))
            try db.execute("PRAGMA query_only=1")
            return db
        }
        let applied = try verifyExisting(db)
        let hasCheckpointTable = try sqlite(path) { () throws(DatabaseError) in
            try db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'etl_checkpoint'").step()
        }
        guard hasCheckpointTable else { return nil }
        let query = try sqlite(path) { () throws(DatabaseError) in
            try db.prepare(checkpointQuerySQL(positionColumns: applied.contains(sourcePositionMigration)))
        }
        return try decodeCheckpoint(query, path: path)
    }

    /// Whether a file (or anything) exists at `path`. C: `lstat`.
    public static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }
}
