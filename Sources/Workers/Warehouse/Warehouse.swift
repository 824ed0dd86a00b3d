import Posix
import CSQLite
import Glibc
import Pipeline
import Wire

/// The SQLite warehouse the `loader` worker writes, in WAL mode with `synchronous=NORMAL`.
///
/// Tables (also in `docs/WAREHOUSE.md`):
/// - `fact_telemetry_features(timestamp TEXT, pump_id TEXT, flow_rate REAL, pressure REAL,
///   vibration REAL, temperature REAL, failure INTEGER, vibration_rolling_mean REAL,
///   pressure_rolling_mean REAL)`, every column NOT NULL, `PRIMARY KEY (pump_id, timestamp)`,
///   `WITHOUT ROWID` (the key is the table's one b-tree: a fifth faster to load than a rowid
///   table plus its key index, measured with raw C inserts of 1 M rows);
///   the timestamp is `YYYY-MM-DD HH:MM:SS` UTC text, as pandas' `to_sql` writes datetimes.
/// - `etl_checkpoint(id = 1, last_batch_id, cursor, window_state BLOB, rows_loaded,
///   rows_dropped, updated_at, cursor_skip)`: one row, where the chain resumes (the source
///   position: the page at `cursor`, '' for the first page, after its first `cursor_skip` records).
/// - `etl_batches(batch_id PRIMARY KEY, cursor, rows_inserted, rows_duplicate, rows_dropped,
///   committed_at, rows_extracted, rows_quarantined, cursor_skip)`: one row per committed batch,
///   for reconciliation, with the source position after it.
/// - `etl_runs(run_id PRIMARY KEY, started_at, stream_loaded_at, last_batch_id)`: each run of the
///   chain, and whether (and where) the stream it was to load is committed (`Warehouse+Runs.swift`).
/// - `etl_quarantine(batch_id PRIMARY KEY, gate, action, reason, evidence, record_count, records,
///   quarantined_at, resumed_at)`: the batches the integrity gates set aside (`Warehouse+Quarantine.swift`).
/// - `schema_migrations(name PRIMARY KEY, applied_at)`: the named migrations applied.
/// - `ml_models` and `ai_telemetry_predictions`: the trainer's model registry and the serving
///   model's predictions, written by `publish` (`Warehouse+Models.swift`, `Warehouse+Predictions.swift`).
///
/// A batch is committed in one transaction with its `etl_batches` row and the checkpoint, so
/// after a crash the fact table and the checkpoint always agree. Used from one thread.
public final class Warehouse {
    /// The database file.
    public let path: String
    /// How `commit` waits out another connection's lock.
    public let lockPolicy: LockPolicy

    /// The connection; internal so the trainer's side (`Warehouse+Training.swift`, …) can use it.
    let db: Database
    private let insertFact: Statement
    private let insertBatch: Statement
    private let insertQuarantine: Statement
    private let upsertCheckpoint: Statement
    private let selectCheckpoint: Statement
    /// Reused for every row's timestamp text, so inserting allocates nothing per row.
    private let timestampText = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: UTCTimestamp.textLength)

    /// Opens the warehouse with the default lock policy and `busyTimeout`.
    /// - Throws: as `init(path:lockPolicy:)`.
    public convenience init(path: String, busyTimeout: Duration) throws(WarehouseError) {
        try self.init(path: path, lockPolicy: LockPolicy(busyTimeout: busyTimeout))
    }

    /// Opens or creates the warehouse at `path`: creates the parent directory if missing, checks
    /// an existing database's tables and checkpoint (reading only), then switches to WAL and
    /// applies the migrations not yet recorded.
    /// - Throws: `WarehouseError` naming the path and the trouble (a directory that cannot be
    ///   created or written, a file that is not a database, a table of another shape, a checkpoint
    ///   that does not decode); nothing has been modified then.
    public init(path: String, lockPolicy: LockPolicy = LockPolicy()) throws(WarehouseError) {
        self.path = path
        self.lockPolicy = lockPolicy
        try Self.prepareDirectory(for: path)
        let db = try Self.sqlite(path) { () throws(DatabaseError) in
            try Database(path: path, busyTimeout: lockPolicy.busyTimeout)
        }
        try Self.verifyExisting(db)
        let journalMode = try Self.sqlite(path) { () throws(DatabaseError) -> String in
            let pragma = try db.prepare("PRAGMA journal_mode=WAL")
            guard try pragma.step() else { return "" }
            let mode = pragma.string(at: 0)
            // A bigger page cache than the 2 MiB default keeps the key index's hot pages in memory.
            try db.execute("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384")
            return mode
        }
        guard journalMode.lowercased() == "wal" else {
            throw WarehouseError(.database(DatabaseError(
                resultCode: SQLITE_ERROR, message: "journal_mode is '\(journalMode)', WAL is required",
                sql: "PRAGMA journal_mode=WAL", path: path)), path: path)
        }
        try Self.migrate(db)
        try Self.verifyExisting(db)
        self.db = db
        (insertFact, insertBatch, insertQuarantine, upsertCheckpoint, selectCheckpoint) = try Self.statements(db)
    }

    /// Opens an existing, current warehouse read-only, for the commands that only read it
    /// (`cidp models`, `quarantine`, `checkpoint show`, a job's summary): never creates, migrates
    /// or writes it, so they run beside a tree that writes it and on a file they may not write.
    /// - Throws: `WarehouseError`: `.noSuchFile`; `.notADatabase`, `.unexpectedShape` as a
    ///   read-write open; `.database` naming the first migration not applied when the file
    ///   predates this version (a `cidp up` on it migrates it).
    public init(readingOnly path: String, busyTimeout: Duration) throws(WarehouseError) {
        self.path = path
        self.lockPolicy = LockPolicy(busyTimeout: busyTimeout)
        guard Self.exists(path) else { throw WarehouseError(.noSuchFile, path: path) }
        let db = try Self.sqlite(path) { () throws(DatabaseError) in
            // `query_only` on an ordinary connection rather than SQLITE_OPEN_READONLY: a read-only
            // connection to a WAL database leaves its -wal and -shm files behind when it closes
            // last; this one closes like any other (as `inspect`), and still writes nothing.
            let db = try Database(existingPath: path, busyTimeout: busyTimeout)
            try db.execute("PRAGMA query_only=1")
            return db
        }
        let applied = try Self.verifyExisting(db)
        if let missing = Self.migrations.first(where: { !applied.contains($0.name) }) {
            throw WarehouseError(.database(DatabaseError(
                resultCode: SQLITE_READONLY, message: "the warehouse predates this version: migration \(missing.name) "
                    + "is not applied (a 'cidp up' on it applies it)", sql: "", path: path)), path: path)
        }
        self.db = db
        (insertFact, insertBatch, insertQuarantine, upsertCheckpoint, selectCheckpoint) = try Self.statements(db)
    }

    /// The statements every open prepares (compiling a write on a read-only connection is allowed;
    /// running it is not).
    private static func statements(_ db: Database) throws(WarehouseError)
        -> (Statement, Statement, Statement, Statement, Statement) {
        let path = db.path
        return try Self.sqlite(path) {
            () throws(DatabaseError) in
            try (db.prepare("""
                    INSERT INTO fact_telemetry_features (timestamp, pump_id, flow_rate, pressure, vibration,
                        temperature, failure, vibration_rolling_mean, pressure_rolling_mean, batch_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pump_id, timestamp) DO NOTHING
                    """),
                 db.prepare("""
                    INSERT INTO etl_batches (batch_id, cursor, rows_inserted, rows_duplicate, rows_dropped,
                        rows_extracted, rows_quarantined, committed_at, cursor_skip, window_state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'), ?, ?)
                    """),
                 db.prepare("""
                    INSERT INTO etl_quarantine (batch_id, gate, action, reason, evidence, record_count, records,
                        quarantined_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'))
                    """),
                 db.prepare("""
                    INSERT INTO etl_checkpoint (id, last_batch_id, cursor, window_state, rows_loaded, rows_dropped, updated_at,
                        cursor_skip)
                    VALUES (1, ?, ?, ?, ?, ?, datetime('now'), ?)
                    ON CONFLICT (id) DO UPDATE SET last_batch_id = excluded.last_batch_id, cursor = excluded.cursor,
                        window_state = excluded.window_state, rows_loaded = excluded.rows_loaded,
                        rows_dropped = excluded.rows_dropped, updated_at = excluded.updated_at,
                        cursor_skip = excluded.cursor_skip
                    """),
                 db.prepare(Self.checkpointQuerySQL(positionColumns: true)))
        }
    }

    deinit { timestampText.deallocate() }

    /// The last committed checkpoint, or nil before the first commit.
    /// - Throws: `WarehouseError.Code.badCheckpoint` if the row does not decode.
    public func checkpoint() throws(WarehouseError) -> Checkpoint? {
        try Self.decodeCheckpoint(selectCheckpoint, path: path)
    }

    /// Commits `batch` in one transaction: its rows (a (pump, timestamp) already present is
    /// counted as a duplicate and left as it is), its `etl_batches` row, and the checkpoint with
    /// `windowState`, the batch's cursor and the running counts (`dropped` records upstream).
    ///
    /// Idempotent: a batch whose id is not above the checkpoint's is not applied again. While
    /// another connection holds the write lock, retries with the lock policy's backoff, calling
    /// `onBlocked` with the time waited so far before each pause; nothing is ever half-applied.
    /// - Throws: `WarehouseError`: `.invalidBatch` (records without rolling means, a timestamp
    ///   outside years 0–9999, a batch id above `Int64.max`, negative `dropped`) before touching
    ///   the database; `.locked` past the policy's deadline; `.badCheckpoint`; `.database` (e.g. a
    ///   NaN reading, which SQLite stores as NULL, violates NOT NULL) after a rollback.
    public func commit(
        _ batch: RecordBatch, dropped: Int, windowState: [UInt8],
        onBlocked: (_ waited: Duration) -> Void = { _ in }
    ) throws(WarehouseError) -> CommitOutcome {
        try commit([PendingBatch(batch: batch, dropped: dropped, windowState: windowState)], onBlocked: onBlocked)[0]
    }

    /// Group commit: `batches`, in order, in ONE transaction — each as `commit(_:dropped:…)`
    /// applies it (rows, `etl_batches` row, checkpoint), so the checkpoint ends at the last.
    /// One commit for several batches is what lets the loader keep up with the chain: the
    /// transaction's fixed cost is paid once. All or nothing, like a single batch.
    ///
    /// A quarantined batch (`quarantine` set) inserts no fact row: its `etl_quarantine` row (the
    /// records as a JSON array, see `quarantineJSON`), its `etl_batches` row (0 inserted, 0
    /// duplicates, `rows_quarantined` its record count) and the checkpoint, like any other
    /// batch; a halt does not stop the batches after it in the same group from committing (the
    /// caller decides what to send).
    /// - Returns: one outcome per batch, in order.
    /// - Throws: as `commit(_:dropped:windowState:onBlocked:)`; `.invalidBatch` also for a
    ///   negative `extracted`, an `extracted` of 0 for a batch with records (0 means "not
    ///   recorded" for batches from before migration 006), a quarantine without records or
    ///   with an empty gate or reason.
    public func commit(
        _ batches: [PendingBatch], onBlocked: (_ waited: Duration) -> Void = { _ in }
    ) throws(WarehouseError) -> [CommitOutcome] {
        for pending in batches { try validate(pending) }
        // Encoded once, outside the transaction: a retry after a lock does not redo it.
        let quarantinedJSON = batches.map { $0.quarantine.map { Self.quarantineJSON($0.records) } }
        return try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) -> [CommitOutcome] in
            try db.transaction(.immediate, wrapping: { WarehouseError($0, path: path) }) {
                () throws(WarehouseError) -> [CommitOutcome] in
                var outcomes: [CommitOutcome] = []
                outcomes.reserveCapacity(batches.count)
                for (pending, json) in zip(batches, quarantinedJSON) {
                    outcomes.append(try apply(pending, quarantinedJSON: json))
                }
                return outcomes
            }
        }
    }

    /// The body of `commit`'s transaction.
    private func apply(_ pending: PendingBatch, quarantinedJSON: String?) throws(WarehouseError) -> CommitOutcome {
        let batch = pending.batch
        let previous = try Self.decodeCheckpoint(selectCheckpoint, path: path)
        if let previous, batch.batchID <= previous.batchID { return .alreadyCommitted }
        return try Self.sqlite(path) { () throws(DatabaseError) -> CommitOutcome in
            var inserted = 0
            let duplicates: Int
            let outcome: CommitOutcome
            if let quarantine = pending.quarantine, let quarantinedJSON {
                try insertQuarantine.bind(Int64(batch.batchID), at: 1)
                try insertQuarantine.bind(quarantine.gate, at: 2)
                try insertQuarantine.bind(quarantine.action.rawValue, at: 3)
                try insertQuarantine.bind(quarantine.reason, at: 4)
                if let evidence = quarantine.evidence {
                    try insertQuarantine.bind(evidence, at: 5)
                } else {
                    try insertQuarantine.bindNull(at: 5)
                }
                try insertQuarantine.bind(Int64(quarantine.records.count), at: 6)
                try insertQuarantine.bind(quarantinedJSON, at: 7)
                try insertQuarantine.execute()
                duplicates = 0
                outcome = .quarantined(records: quarantine.records.count, action: quarantine.action)
            } else {
                for record in batch.records {
                    // `validate` checked the means and the timestamp's range.
                    UTCTimestamp.write(record.timestamp, into: timestampText)
                    try insertFact.bind(utf8: UnsafeBufferPointer(timestampText), at: 1)
                    try insertFact.bind(record.pumpID, at: 2)
                    try insertFact.bind(record.flowRate, at: 3)
                    try insertFact.bind(record.pressure, at: 4)
                    try insertFact.bind(record.vibration, at: 5)
                    try insertFact.bind(record.temperature, at: 6)
                    try insertFact.bind(Int64(record.failure), at: 7)
                    try insertFact.bind(record.vibrationRollingMean!, at: 8)
                    try insertFact.bind(record.pressureRollingMean!, at: 9)
                    try insertFact.bind(Int64(batch.batchID), at: 10)
                    try insertFact.execute()
                    inserted += Int(db.changes)
                }
                duplicates = batch.records.count - inserted
                outcome = .committed(inserted: inserted, duplicates: duplicates)
            }
            try insertBatch.bind(Int64(batch.batchID), at: 1)
            try insertBatch.bind(Self.storedCursor(batch.position), at: 2)
            try insertBatch.bind(Int64(inserted), at: 3)
            try insertBatch.bind(Int64(duplicates), at: 4)
            try insertBatch.bind(Int64(pending.dropped), at: 5)
            try insertBatch.bind(Int64(pending.extracted), at: 6)
            try insertBatch.bind(Int64(pending.quarantine?.records.count ?? 0), at: 7)
            try insertBatch.bind(Int64(batch.position.skip), at: 8)
            try insertBatch.bind(blob: pending.windowState, at: 9)
            try insertBatch.execute()
            try upsertCheckpoint.bind(Int64(batch.batchID), at: 1)
            try upsertCheckpoint.bind(Self.storedCursor(batch.position), at: 2)
            try upsertCheckpoint.bind(blob: pending.windowState, at: 3)
            try upsertCheckpoint.bind((previous?.rowsLoaded ?? 0) + Int64(inserted), at: 4)
            try upsertCheckpoint.bind((previous?.rowsDropped ?? 0) + Int64(pending.dropped), at: 5)
            try upsertCheckpoint.bind(Int64(batch.position.skip), at: 6)
            try upsertCheckpoint.execute()
            return outcome
        }
    }

    /// Refuses, before any SQL, a batch the warehouse must not store.
    private func validate(_ pending: PendingBatch) throws(WarehouseError) {
        let batch = pending.batch
        func refuse(_ why: String) -> WarehouseError {
            WarehouseError(.invalidBatch("batch \(batch.batchID): \(why)"), path: path)
        }
        guard batch.batchID <= UInt64(Int64.max) else { throw refuse("id above \(Int64.max)") }
        guard pending.dropped >= 0 else { throw refuse("negative dropped count \(pending.dropped)") }
        guard pending.extracted >= 0 else { throw refuse("negative extracted count \(pending.extracted)") }
        // 0 reads as "not recorded" in `integrityCheck()` (batches from before migration 006),
        // so it must not be stored for a batch with records: it would hide the mismatch.
        let accounted = (pending.quarantine?.records.count ?? batch.records.count) + pending.dropped
        guard pending.extracted > 0 || accounted == 0 else {
            throw refuse("extracted count 0 for \(accounted) records accounted for")
        }
        if let quarantine = pending.quarantine {
            guard !quarantine.records.isEmpty else { throw refuse("quarantine by gate '\(quarantine.gate)' without records") }
            guard !quarantine.gate.isEmpty, !quarantine.reason.isEmpty else { throw refuse("quarantine without gate or reason") }
            // The records are kept as they are, whatever is wrong with them: that is the point.
            return
        }
        for (index, record) in batch.records.enumerated() {
            guard record.vibrationRollingMean != nil, record.pressureRollingMean != nil else {
                throw refuse("record \(index) (\(record.pumpID) at \(record.timestamp)) has no rolling means")
            }
            guard UTCTimestamp.isRepresentable(record.timestamp) else {
                throw refuse("record \(index) (\(record.pumpID)): timestamp \(record.timestamp) is outside years 0000-9999")
            }
        }
    }

    /// The number of fact rows.
    /// - Throws: `WarehouseError.Code.database`.
    public func rowCount() throws(WarehouseError) -> Int64 {
        try Self.sqlite(path) { () throws(DatabaseError) -> Int64 in
            let count = try db.prepare("SELECT count(*) FROM fact_telemetry_features")
            _ = try count.step()
            return count.int64(at: 0)
        }
    }

    /// Every fact row, timestamps back in Unix seconds (for tests and drills: it reads the whole table).
    /// - Throws: `WarehouseError.Code.badRow` for a row that does not decode (a timestamp not
    ///   `YYYY-MM-DD HH:MM:SS`, a failure flag outside 0–255), `.database`.
    public func rows(orderedBy order: RowOrder = .pumpThenTimestamp) throws(WarehouseError) -> [TelemetryRecord] {
        let orderBy = switch order {
        case .pumpThenTimestamp: "pump_id, timestamp"
        case .timestampThenPump: "timestamp, pump_id"
        }
        let query = try Self.sqlite(path) { () throws(DatabaseError) in
            try db.prepare("""
                SELECT timestamp, pump_id, flow_rate, pressure, vibration, temperature, failure,
                    vibration_rolling_mean, pressure_rolling_mean
                FROM fact_telemetry_features ORDER BY \(orderBy)
                """)
        }
        var records: [TelemetryRecord] = []
        while try Self.sqlite(path, { () throws(DatabaseError) in try query.step() }) {
            let pumpID = query.string(at: 1)
            guard let timestamp = query.withUTF8(at: 0, UTCTimestamp.parse) else {
                throw WarehouseError(.badRow("\(pumpID): timestamp '\(query.string(at: 0))' is not YYYY-MM-DD HH:MM:SS"), path: path)
            }
            guard let failure = UInt8(exactly: query.int64(at: 6)) else {
                throw WarehouseError(.badRow("\(pumpID) at \(query.string(at: 0)): failure \(query.int64(at: 6))"), path: path)
            }
            records.append(TelemetryRecord(
                timestamp: timestamp, pumpID: pumpID,
                flowRate: query.double(at: 2), pressure: query.double(at: 3),
                vibration: query.double(at: 4), temperature: query.double(at: 5), failure: failure,
                vibrationRollingMean: query.double(at: 7), pressureRollingMean: query.double(at: 8)))
        }
        return records
    }
}

extension Warehouse {
    /// Creates the parent directory of `path` and its missing ancestors, then checks that files
    /// can be created in it (SQLite needs the `-wal` and `-shm` files next to the database).
    /// C: `mkdir(2)`, `access(W_OK)`.
    static func prepareDirectory(for path: String) throws(WarehouseError) {
        guard let slash = path.lastIndex(of: "/") else { return try checkWritable(".", path: path) }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component
            if component != ".", component != "..", mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw WarehouseError(.cannotCreateDirectory(prefix, errno: .current), path: path)
            }
            prefix += "/"
        }
        var status = stat()
        guard stat(directory, &status) == 0 else {
            throw WarehouseError(.cannotCreateDirectory(directory, errno: .current), path: path)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw WarehouseError(.cannotCreateDirectory(directory, errno: Errno(rawValue: ENOTDIR)), path: path)
        }
        try checkWritable(directory, path: path)
    }

    private static func checkWritable(_ directory: String, path: String) throws(WarehouseError) {
        guard access(directory, W_OK | X_OK) == 0 else {
            throw WarehouseError(.directoryNotWritable(directory, errno: .current), path: path)
        }
    }

}

extension WarehouseError {
    /// Whether another connection held the lock past SQLite's busy timeout: `commit` retries.
    var isBusy: Bool {
        if case .database(let error) = code { return error.isBusy }
        return false
    }
}
