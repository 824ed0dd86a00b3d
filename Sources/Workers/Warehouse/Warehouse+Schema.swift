import CSQLite
import Pipeline
import Wire

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
        // The integrity gates' quarantine, and the counts that let every batch be reconciled
        // with what the extractor delivered. `ADD COLUMN … DEFAULT 0` keeps the rows of an
        // older warehouse as they are (their `rows_extracted` reads 0: unknown).
        Migration(name: quarantineMigration, sql: """
            CREATE TABLE IF NOT EXISTS etl_quarantine (
                batch_id INTEGER PRIMARY KEY, gate TEXT NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('halt', 'quarantine_and_continue')),
                reason TEXT NOT NULL, evidence TEXT, record_count INTEGER NOT NULL, records TEXT NOT NULL,
                quarantined_at TEXT NOT NULL, resumed_at TEXT);
            ALTER TABLE etl_batches ADD COLUMN rows_extracted INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE etl_batches ADD COLUMN rows_quarantined INTEGER NOT NULL DEFAULT 0
            """),
        // The real source position after every batch: a page the source had only partly filled
        // is asked for again, its first `cursor_skip` records passed over. Before this, the last
        // batch of a finite stream recorded '<end-of-stream>' instead of a position, and the next
        // run loaded nothing: that position is the cursor the last batch's page was asked with
        // (the one recorded by the batch before it; '' for the first page) after the records that
        // page held (`rows_extracted`, recorded since 006).
        Migration(name: sourcePositionMigration, sql: """
            ALTER TABLE etl_checkpoint ADD COLUMN cursor_skip INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE etl_batches ADD COLUMN cursor_skip INTEGER NOT NULL DEFAULT 0;
            UPDATE etl_checkpoint SET
                cursor = coalesce((SELECT b.cursor FROM etl_batches b WHERE b.batch_id < etl_checkpoint.last_batch_id
                                   ORDER BY b.batch_id DESC LIMIT 1), ''),
                cursor_skip = coalesce((SELECT b.rows_extracted FROM etl_batches b
                                        WHERE b.batch_id = etl_checkpoint.last_batch_id), 0)
            WHERE cursor = '<end-of-stream>'
            """),
        // Each run of the chain: the loader records when the stream a job was to load is committed,
        // which is when that job's trainer trains (`Warehouse+Runs.swift`).
        Migration(name: runsMigration, sql: """
            CREATE TABLE IF NOT EXISTS etl_runs (
                run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, stream_loaded_at TEXT, last_batch_id INTEGER)
            """),
        // Lineage, so that an operator can rewind the warehouse to a batch (`cidp checkpoint
        // rewind`): the batch each fact row was loaded with (0 for rows loaded before this
        // migration), and each batch's transformer state after it (NULL before).
        Migration(name: lineageMigration, sql: """
            ALTER TABLE fact_telemetry_features ADD COLUMN batch_id INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE etl_batches ADD COLUMN window_state BLOB
            """),
        // Issue 13: what kind of model a row holds and how its risk is calibrated (JSON, NULL for
        // a model served uncalibrated), and whether each prediction's row was in the model's
        // training split (0 for predictions published before this migration: unknown).
        Migration(name: calibrationMigration, sql: """
            ALTER TABLE ml_models ADD COLUMN kind TEXT NOT NULL DEFAULT 'forest';
            ALTER TABLE ml_models ADD COLUMN calibration TEXT;
            ALTER TABLE ai_telemetry_predictions ADD COLUMN in_training INTEGER NOT NULL DEFAULT 0
                CHECK (in_training IN (0, 1))
            """),
    ]

    /// The migration that adds `etl_quarantine` and `etl_batches`' two counts.
    static let quarantineMigration = "006_etl_quarantine"
    /// The migration that adds the source position's `cursor_skip`.
    static let sourcePositionMigration = "007_source_position"
    /// The migration that adds `etl_runs`.
    static let runsMigration = "008_etl_runs"
    /// The migration that adds the batch each fact row came with, and each batch's window state.
    static let lineageMigration = "009_batch_lineage"
    /// The migration that adds the model's kind and calibration, and `in_training`.
    static let calibrationMigration = "010_model_calibration"

    static let migrationsTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)
        """

    /// A warehouse table and its expected columns, in declaration order.
    struct TableShape {
        var table: String
        var columns: [Column]
        /// The migration that creates the table, when `Warehouse.verify` requires it only once
        /// that migration is recorded; nil for the tables every warehouse file has.
        var addedBy: String?
    }

    /// `etl_batches` as migration 003 creates it; 006 appends `rows_extracted`, `rows_quarantined`.
    static let etlBatchesColumns003: [Column] = [
        Column("batch_id", "INTEGER", notNull: false, primaryKey: 1), Column("cursor", "TEXT"),
        Column("rows_inserted", "INTEGER"), Column("rows_duplicate", "INTEGER"), Column("rows_dropped", "INTEGER"),
        Column("committed_at", "TEXT"),
    ]

    /// Every table and its expected columns once `applied` migrations are recorded: `etl_batches`
    /// has its two 006 columns exactly when 006 is recorded (before, `ADD COLUMN` must still be
    /// able to add them).
    static func expectedShapes(applied: Set<String>) -> [TableShape] {
        var etlBatches = applied.contains(quarantineMigration)
            ? etlBatchesColumns003 + [Column("rows_extracted", "INTEGER"), Column("rows_quarantined", "INTEGER")]
            : etlBatchesColumns003
        var etlCheckpoint = [
            // An INTEGER PRIMARY KEY is the rowid: SQLite reports it nullable.
            Column("id", "INTEGER", notNull: false, primaryKey: 1),
            Column("last_batch_id", "INTEGER"), Column("cursor", "TEXT"), Column("window_state", "BLOB"),
            Column("rows_loaded", "INTEGER"), Column("rows_dropped", "INTEGER"), Column("updated_at", "TEXT"),
        ]
        if applied.contains(sourcePositionMigration) {
            etlBatches.append(Column("cursor_skip", "INTEGER"))
            etlCheckpoint.append(Column("cursor_skip", "INTEGER"))
        }
        var fact = [
            Column("timestamp", "TEXT", primaryKey: 2), Column("pump_id", "TEXT", primaryKey: 1),
            Column("flow_rate", "REAL"), Column("pressure", "REAL"), Column("vibration", "REAL"),
            Column("temperature", "REAL"), Column("failure", "INTEGER"),
            Column("vibration_rolling_mean", "REAL"), Column("pressure_rolling_mean", "REAL"),
        ]
        if applied.contains(lineageMigration) {
            fact.append(Column("batch_id", "INTEGER"))
            etlBatches.append(Column("window_state", "BLOB", notNull: false))
        }
        var models = [
            Column("version", "INTEGER", notNull: false, primaryKey: 1), Column("created_at", "TEXT"),
            Column("status", "TEXT"), Column("reason", "TEXT", notNull: false),
            Column("parameters", "TEXT"), Column("metrics", "TEXT"), Column("row_count", "INTEGER"),
            Column("data_fingerprint", "TEXT"), Column("watermark_batch", "INTEGER"), Column("model", "BLOB"),
        ]
        var predictions = [
            Column("timestamp", "TEXT", primaryKey: 2), Column("pump_id", "TEXT", primaryKey: 1),
            Column("flow_rate", "REAL"), Column("pressure", "REAL"), Column("vibration", "REAL"),
            Column("temperature", "REAL"), Column("ai_risk_score_percent", "REAL"),
            Column("ai_predicted_failure", "INTEGER"), Column("model_version", "INTEGER"),
        ]
        if applied.contains(calibrationMigration) {
            models += [Column("kind", "TEXT"), Column("calibration", "TEXT", notNull: false)]
            predictions.append(Column("in_training", "INTEGER"))
        }
        return [
            TableShape(table: "schema_migrations", columns: [
                Column("name", "TEXT", primaryKey: 1), Column("applied_at", "TEXT"),
            ]),
            TableShape(table: "fact_telemetry_features", columns: fact),
            TableShape(table: "etl_checkpoint", columns: etlCheckpoint),
            TableShape(table: "etl_batches", columns: etlBatches),
            TableShape(table: "ml_models", columns: models),
            TableShape(table: "ai_telemetry_predictions", columns: predictions),
            TableShape(table: "etl_quarantine", columns: [
                Column("batch_id", "INTEGER", notNull: false, primaryKey: 1), Column("gate", "TEXT"),
                Column("action", "TEXT"), Column("reason", "TEXT"), Column("evidence", "TEXT", notNull: false),
                Column("record_count", "INTEGER"), Column("records", "TEXT"), Column("quarantined_at", "TEXT"),
                Column("resumed_at", "TEXT", notNull: false),
            ], addedBy: quarantineMigration),
            TableShape(table: "etl_runs", columns: [
                Column("run_id", "TEXT", notNull: false, primaryKey: 1), Column("started_at", "TEXT"),
                Column("stream_loaded_at", "TEXT", notNull: false), Column("last_batch_id", "INTEGER", notNull: false),
            ], addedBy: runsMigration),
        ]
    }

    /// Checks, reading only, that no unknown migration is recorded, that every warehouse table
    /// already present has the columns expected with the migrations recorded, and that the
    /// checkpoint decodes.
    /// - Returns: the migrations recorded (none without `schema_migrations`).
    /// - Throws: `WarehouseError` (`.notADatabase` on the first read of a foreign file).
    @discardableResult
    static func verifyExisting(_ db: Database) throws(WarehouseError) -> Set<String> {
        let path = db.path
        let info = try sqlite(path) { () throws(DatabaseError) in
            try db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid")
        }
        func columns(of table: String) throws(WarehouseError) -> [Column] {
            try sqlite(path) { () throws(DatabaseError) in
                defer { info.reset() }
                try info.bind(table, at: 1)
                var found: [Column] = []
                while try info.step() {
                    found.append(Column(info.string(at: 0), info.string(at: 1).uppercased(),
                                        notNull: info.int64(at: 2) != 0, primaryKey: Int(info.int64(at: 3))))
                }
                return found
            }
        }
        func check(_ shape: TableShape) throws(WarehouseError) -> Bool {
            let found = try columns(of: shape.table)
            guard !found.isEmpty else { return false }
            guard found == shape.columns else {
                throw WarehouseError(.unexpectedShape(
                    table: shape.table, expected: shape.columns.map(\.summary).joined(separator: ", "),
                    found: found.map(\.summary).joined(separator: ", ")), path: path)
            }
            return true
        }
        // The migrations recorded decide the shapes expected, so they are read first.
        var applied: Set<String> = []
        if try check(expectedShapes(applied: [])[0]) {
            let known = Set(migrations.map(\.name))
            for name in try sqlite(path, { () throws(DatabaseError) in try appliedMigrations(db) }) {
                guard known.contains(name) else { throw WarehouseError(.unknownMigration(name), path: path) }
                applied.insert(name)
            }
        }
        var present: Set<String> = []
        for shape in expectedShapes(applied: applied).dropFirst() {
            if try check(shape) { present.insert(shape.table) }
        }
        if present.contains("etl_checkpoint") {
            let query = try sqlite(path) { () throws(DatabaseError) in
                try db.prepare(checkpointQuerySQL(positionColumns: applied.contains(sourcePositionMigration)))
            }
            _ = try decodeCheckpoint(query, path: path)
        }
        return applied
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
        // Nothing to apply (every open but the first): no write lock taken, so a worker that only
        // reads opens even while another connection writes.
        let isCurrent = try sqlite(db.path) { () throws(DatabaseError) -> Bool in
            let exists = try db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").step()
            guard exists else { return false }
            return Set(try appliedMigrations(db)).isSuperset(of: migrations.map(\.name))
        }
        guard !isCurrent else { return }
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

    /// The checkpoint's columns; before migration 007 (`positionColumns` false) `cursor_skip` reads 0.
    static func checkpointQuerySQL(positionColumns: Bool) -> String {
        "SELECT last_batch_id, cursor, window_state, rows_loaded, rows_dropped, "
            + (positionColumns ? "cursor_skip" : "0") + " FROM etl_checkpoint"
    }

    /// How a position's cursor is stored: '' for the first page (a cursor the source gave is
    /// never empty: the page parser refuses an empty `next_cursor`).
    static func storedCursor(_ position: SourcePosition) -> String { position.cursor ?? "" }

    /// Runs `query` (`checkpointQuerySQL`) and checks every field's storage class and range.
    /// - Throws: `WarehouseError.Code.badCheckpoint` naming the field.
    static func decodeCheckpoint(_ query: Statement, path: String) throws(WarehouseError) -> Checkpoint? {
        defer { query.reset() }
        func bad(_ why: String) -> WarehouseError { WarehouseError(.badCheckpoint(why), path: path) }
        guard try sqlite(path, { () throws(DatabaseError) in try query.step() }) else { return nil }
        let expected: [(String, Int32)] = [
            ("last_batch_id", SQLITE_INTEGER), ("cursor", SQLITE_TEXT), ("window_state", SQLITE_BLOB),
            ("rows_loaded", SQLITE_INTEGER), ("rows_dropped", SQLITE_INTEGER), ("cursor_skip", SQLITE_INTEGER),
        ]
        for (index, (name, type)) in expected.enumerated() {
            let found = query.columnType(at: Int32(index))
            guard found == type else {
                throw bad("\(name) is \(storageClassName(found)), expected \(storageClassName(type))")
            }
        }
        let batchID = query.int64(at: 0), loaded = query.int64(at: 3), dropped = query.int64(at: 4)
        let skip = query.int64(at: 5), cursor = query.string(at: 1)
        guard batchID >= 0 else { throw bad("last_batch_id is negative (\(batchID))") }
        guard loaded >= 0, dropped >= 0 else { throw bad("negative row counts (loaded \(loaded), dropped \(dropped))") }
        guard (0...Int64(UInt32.max)).contains(skip) else { throw bad("cursor_skip is out of range (\(skip))") }
        let checkpoint = Checkpoint(
            batchID: UInt64(batchID), position: SourcePosition(cursor: cursor.isEmpty ? nil : cursor, skip: Int(skip)),
            windowState: query.blob(at: 2), rowsLoaded: loaded, rowsDropped: dropped)
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
