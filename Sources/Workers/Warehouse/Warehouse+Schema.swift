import CSQLite

/// The warehouse schema: its tables, the named migrations that create them, and the check that
/// an existing database has the shape this code expects before anything is written to it.
extension Warehouse {
    /// A column as `pragma_table_info` reports it.
    struct Column: Equatable {
        var name: String
        var type: String
        var isNotNull: Bool
        /// Position in the primary key, 1-based; 0 when not part of it.
        var primaryKeyIndex: Int

        init(_ name: String, _ type: String, notNull: Bool = true, primaryKey: Int = 0) {
            self.name = name
            self.type = type
            self.isNotNull = notNull
            self.primaryKeyIndex = primaryKey
        }

        /// `name TYPE NOT NULL PK 1`.
        var summary: String {
            name + " " + type + (isNotNull ? " NOT NULL" : "") + (primaryKeyIndex > 0 ? " PK \(primaryKeyIndex)" : "")
        }
    }

    /// A named step of the schema; applied once, in order, and recorded in `schema_migrations`.
    struct Migration {
        var name: String
        var sql: String
    }

    /// The fact table, as pandas' `to_sql` would lay it out, plus the key that makes loads idempotent.
    static let factTableSQL = """
        CREATE TABLE IF NOT EXISTS fact_telemetry_features (
            timestamp TEXT NOT NULL, pump_id TEXT NOT NULL,
            flow_rate REAL NOT NULL, pressure REAL NOT NULL, vibration REAL NOT NULL, temperature REAL NOT NULL,
            failure INTEGER NOT NULL,
            vibration_rolling_mean REAL NOT NULL, pressure_rolling_mean REAL NOT NULL,
            PRIMARY KEY (pump_id, timestamp)) WITHOUT ROWID
        """

    /// `IF NOT EXISTS`: a table already there has passed `verifyShapes` first, so it is adopted.
    static let migrations: [Migration] = [
        Migration(name: "001_fact_telemetry_features", sql: factTableSQL),
        Migration(name: "002_etl_checkpoint", sql: """
            CREATE TABLE IF NOT EXISTS etl_checkpoint (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                last_batch_id INTEGER NOT NULL, cursor TEXT NOT NULL, window_state BLOB NOT NULL,
                rows_loaded INTEGER NOT NULL, rows_dropped INTEGER NOT NULL, updated_at TEXT NOT NULL)
            """),
        Migration(name: "003_etl_batches", sql: """
            CREATE TABLE IF NOT EXISTS etl_batches (
                batch_id INTEGER PRIMARY KEY, cursor TEXT NOT NULL,
                rows_inserted INTEGER NOT NULL, rows_duplicate INTEGER NOT NULL, rows_dropped INTEGER NOT NULL,
                committed_at TEXT NOT NULL)
            """),
        // The trainer's model registry; the partial unique index allows one serving model at most.
        Migration(name: "004_ml_models", sql: """
            CREATE TABLE IF NOT EXISTS ml_models (
                version INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('serving', 'retired', 'rejected')), reason TEXT,
                parameters TEXT NOT NULL, metrics TEXT NOT NULL, row_count INTEGER NOT NULL,
                data_fingerprint TEXT NOT NULL, watermark_batch INTEGER NOT NULL, model BLOB NOT NULL);
            CREATE UNIQUE INDEX IF NOT EXISTS ml_models_one_serving ON ml_models (status) WHERE status = 'serving'
            """),
        // The serving model's predictions, replaced whole by each publish.
        Migration(name: "005_ai_telemetry_predictions", sql: """
            CREATE TABLE IF NOT EXISTS ai_telemetry_predictions (
                timestamp TEXT NOT NULL, pump_id TEXT NOT NULL,
                flow_rate REAL NOT NULL, pressure REAL NOT NULL, vibration REAL NOT NULL, temperature REAL NOT NULL,
                ai_risk_score_percent REAL NOT NULL CHECK (ai_risk_score_percent BETWEEN 0 AND 100),
                ai_predicted_failure INTEGER NOT NULL CHECK (ai_predicted_failure IN (0, 1)),
                model_version INTEGER NOT NULL,
                PRIMARY KEY (pump_id, timestamp)) WITHOUT ROWID
            """),
    ]

    static let migrationsTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)
        """

    /// Every table and its expected columns, in declaration order.
    static let expectedShapes: [(table: String, columns: [Column])] = [
        ("schema_migrations", [Column("name", "TEXT", primaryKey: 1), Column("applied_at", "TEXT")]),
        ("fact_telemetry_features", [
            Column("timestamp", "TEXT", primaryKey: 2), Column("pump_id", "TEXT", primaryKey: 1),
            Column("flow_rate", "REAL"), Column("pressure", "REAL"), Column("vibration", "REAL"),
            Column("temperature", "REAL"), Column("failure", "INTEGER"),
            Column("vibration_rolling_mean", "REAL"), Column("pressure_rolling_mean", "REAL"),
        ]),
        ("etl_checkpoint", [
            // An INTEGER PRIMARY KEY is the rowid: SQLite reports it nullable.
            Column("id", "INTEGER", notNull: false, primaryKey: 1),
            Column("last_batch_id", "INTEGER"), Column("cursor", "TEXT"), Column("window_state", "BLOB"),
            Column("rows_loaded", "INTEGER"), Column("rows_dropped", "INTEGER"), Column("updated_at", "TEXT"),
        ]),
        ("etl_batches", [
            Column("batch_id", "INTEGER", notNull: false, primaryKey: 1), Column("cursor", "TEXT"),
            Column("rows_inserted", "INTEGER"), Column("rows_duplicate", "INTEGER"), Column("rows_dropped", "INTEGER"),
            Column("committed_at", "TEXT"),
        ]),
        ("ml_models", [
            Column("version", "INTEGER", notNull: false, primaryKey: 1), Column("created_at", "TEXT"),
            Column("status", "TEXT"), Column("reason", "TEXT", notNull: false),
            Column("parameters", "TEXT"), Column("metrics", "TEXT"), Column("row_count", "INTEGER"),
            Column("data_fingerprint", "TEXT"), Column("watermark_batch", "INTEGER"), Column("model", "BLOB"),
        ]),
        ("ai_telemetry_predictions", [
            Column("timestamp", "TEXT", primaryKey: 2), Column("pump_id", "TEXT", primaryKey: 1),
            Column("flow_rate", "REAL"), Column("pressure", "REAL"), Column("vibration", "REAL"),
            Column("temperature", "REAL"), Column("ai_risk_score_percent", "REAL"),
            Column("ai_predicted_failure", "INTEGER"), Column("model_version", "INTEGER"),
        ]),
    ]

    /// Checks, reading only, that every warehouse table already present has the expected columns,
    /// that no unknown migration is recorded, and that the checkpoint decodes.
    /// - Throws: `WarehouseError` (`.notADatabase` on the first read of a foreign file).
    static func verifyExisting(_ db: Database) throws(WarehouseError) {
        let path = db.path
        let info = try sqlite(path) { () throws(DatabaseError) in
            try db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid")
        }
        var present: Set<String> = []
        for (table, expected) in expectedShapes {
            let found = try sqlite(path) { () throws(DatabaseError) in
                defer { info.reset() }
                try info.bind(table, at: 1)
                var found: [Column] = []
                while try info.step() {
                    found.append(Column(info.string(at: 0), info.string(at: 1).uppercased(),
                                        notNull: info.int64(at: 2) != 0, primaryKey: Int(info.int64(at: 3))))
                }
                return found
            }
            guard !found.isEmpty else { continue }
            present.insert(table)
            guard found == expected else {
                throw WarehouseError(.unexpectedShape(
                    table: table, expected: expected.map(\.summary).joined(separator: ", "),
                    found: found.map(\.summary).joined(separator: ", ")), path: path)
            }
        }
        if present.contains("schema_migrations") {
            let known = Set(migrations.map(\.name))
            for name in try sqlite(path, { () throws(DatabaseError) in try appliedMigrations(db) }) where !known.contains(name) {
                throw WarehouseError(.unknownMigration(name), path: path)
            }
        }
        if present.contains("etl_checkpoint") {
            let query = try sqlite(path) { () throws(DatabaseError) in try db.prepare(checkpointQuerySQL) }
            _ = try decodeCheckpoint(query, path: path)
        }
    }

    /// Runs SQLite calls, turning their failure into the warehouse's error for `path`.
    static func sqlite<T>(_ path: String, _ body: () throws(DatabaseError) -> T) throws(WarehouseError) -> T {
        do {
            return try body()
        } catch {
            throw WarehouseError(error, path: path)
        }
    }

    /// Creates `schema_migrations` and applies, in one transaction, every migration not recorded there.
    /// - Throws: `WarehouseError.Code.database` (the transaction is rolled back).
    static func migrate(_ db: Database) throws(WarehouseError) {
        try sqlite(db.path) { () throws(DatabaseError) in
            try db.transaction(.immediate) { () throws(DatabaseError) in
                try db.execute(migrationsTableSQL)
                let applied = Set(try appliedMigrations(db))
                let record = try db.prepare("INSERT INTO schema_migrations (name, applied_at) VALUES (?, datetime('now'))")
                for migration in migrations where !applied.contains(migration.name) {
                    try db.execute(migration.sql)
                    try record.bind(migration.name, at: 1)
                    try record.execute()
                }
            }
        }
    }

    /// The names recorded in `schema_migrations`, in the order applied.
    static func appliedMigrations(_ db: Database) throws(DatabaseError) -> [String] {
        let query = try db.prepare("SELECT name FROM schema_migrations ORDER BY rowid")
        var names: [String] = []
        while try query.step() { names.append(query.string(at: 0)) }
        return names
    }

    static let checkpointQuerySQL =
        "SELECT last_batch_id, cursor, window_state, rows_loaded, rows_dropped FROM etl_checkpoint"

    /// Runs `query` (`checkpointQuerySQL`) and checks every field's storage class and range.
    /// - Throws: `WarehouseError.Code.badCheckpoint` naming the field.
    static func decodeCheckpoint(_ query: Statement, path: String) throws(WarehouseError) -> Checkpoint? {
        defer { query.reset() }
        func bad(_ why: String) -> WarehouseError { WarehouseError(.badCheckpoint(why), path: path) }
        guard try sqlite(path, { () throws(DatabaseError) in try query.step() }) else { return nil }
        let expected: [(String, Int32)] = [
            ("last_batch_id", SQLITE_INTEGER), ("cursor", SQLITE_TEXT), ("window_state", SQLITE_BLOB),
            ("rows_loaded", SQLITE_INTEGER), ("rows_dropped", SQLITE_INTEGER),
        ]
        for (index, (name, type)) in expected.enumerated() {
            let found = query.columnType(at: Int32(index))
            guard found == type else {
                throw bad("\(name) is \(storageClassName(found)), expected \(storageClassName(type))")
            }
        }
        let batchID = query.int64(at: 0), loaded = query.int64(at: 3), dropped = query.int64(at: 4)
        guard batchID >= 0 else { throw bad("last_batch_id is negative (\(batchID))") }
        guard loaded >= 0, dropped >= 0 else { throw bad("negative row counts (loaded \(loaded), dropped \(dropped))") }
        let checkpoint = Checkpoint(
            batchID: UInt64(batchID), cursor: query.string(at: 1), windowState: query.blob(at: 2),
            rowsLoaded: loaded, rowsDropped: dropped)
        guard try !sqlite(path, { () throws(DatabaseError) in try query.step() }) else { throw bad("more than one row") }
        return checkpoint
    }

    private static func storageClassName(_ type: Int32) -> String {
        switch type {
        case SQLITE_INTEGER: "INTEGER"
        case SQLITE_FLOAT: "REAL"
        case SQLITE_TEXT: "TEXT"
        case SQLITE_BLOB: "BLOB"
        default: "NULL"
        }
    }
}
