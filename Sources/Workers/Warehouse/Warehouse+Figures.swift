import CSQLite

extension Warehouse {
    /// The warehouse's committed counts, checkpoint and serving model, for the root's metrics.
    public struct Figures: Equatable, Sendable {
        /// The sums over `etl_batches`.
        public var totals: IntegrityReport.Totals
        /// Quarantined batches per gate (`etl_quarantine`).
        public var quarantinedBatchesByGate: [String: Int64]
        /// The checkpoint's last batch, 0 before any commit.
        public var checkpointBatch: Int64
        /// The checkpoint's `updated_at`, Unix seconds.
        public var checkpointUpdatedAt: Int64?
        /// The serving model's holdout ROC-AUC (nil when none, or not a number) and its `created_at`.
        public var servingModelROCAUC: Double?
        public var servingModelCreatedAt: Int64?
        /// The newest quarantined batches (without their records), newest first.
        public var newestQuarantine: [QuarantineEntry] = []
        /// The model versions, newest first: version, status, created_at, ROC-AUC, training rows.
        public var models: [(version: Int64, status: String, createdAt: String, rocAUC: Double?, rows: Int64)] = []

        public static func == (left: Figures, right: Figures) -> Bool {
            left.totals == right.totals && left.quarantinedBatchesByGate == right.quarantinedBatchesByGate
                && left.checkpointBatch == right.checkpointBatch && left.checkpointUpdatedAt == right.checkpointUpdatedAt
                && left.servingModelROCAUC == right.servingModelROCAUC && left.servingModelCreatedAt == right.servingModelCreatedAt
                && left.newestQuarantine == right.newestQuarantine
                && left.models.map(\.version) == right.models.map(\.version)
        }
    }

    /// Reads `Figures` without writing anything (`PRAGMA query_only`), on a connection of its
    /// own that waits at most `busyTimeout` for a lock. Tables a warehouse does not have yet
    /// read as empty.
    /// - Throws: `WarehouseError` when the file cannot be opened or read.
    public static func figures(path: String, busyTimeout: Duration = .milliseconds(200), quarantineShown: Int = 5,
                               modelsShown: Int = 5) throws(WarehouseError) -> Figures {
        try sqlite(path) { () throws(DatabaseError) -> Figures in
            // Read-write (then query_only), as `inspect` does: a read-only connection that
            // closes last would leave `-wal` and `-shm` files behind.
            let db = try Database(existingPath: path, busyTimeout: busyTimeout)
            try db.execute("PRAGMA query_only=1")
            func hasTable(_ name: String) throws(DatabaseError) -> Bool {
                let query = try db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")
                try query.bind(name, at: 1)
                return try query.step()
            }
            var figures = Figures(totals: IntegrityReport.Totals(batches: 0, extracted: 0, batchesWithoutExtracted: 0,
                                                                 loaded: 0, duplicates: 0, dropped: 0, quarantined: 0),
                                  quarantinedBatchesByGate: [:], checkpointBatch: 0)
            // One read transaction, so that the counts and the checkpoint agree.
            try db.execute("BEGIN")
            defer { try? db.execute("COMMIT") }
            if try hasTable("etl_batches"), try hasTable("etl_quarantine") {
                let query = try db.prepare("""
                    SELECT count(*), total(rows_extracted), total(rows_inserted), total(rows_duplicate),
                           total(rows_dropped), total(rows_quarantined) FROM etl_batches
                    """)
                if try query.step() {
                    figures.totals = IntegrityReport.Totals(
                        batches: query.int64(at: 0), extracted: query.int64(at: 1), batchesWithoutExtracted: 0,
                        loaded: query.int64(at: 2), duplicates: query.int64(at: 3), dropped: query.int64(at: 4),
                        quarantined: query.int64(at: 5))
                }
                let gates = try db.prepare("SELECT gate, count(*) FROM etl_quarantine GROUP BY gate")
                while try gates.step() { figures.quarantinedBatchesByGate[gates.string(at: 0)] = gates.int64(at: 1) }
                let newest = try db.prepare("""
                    SELECT batch_id, gate, action, reason, record_count, quarantined_at, resumed_at
                    FROM etl_quarantine ORDER BY batch_id DESC LIMIT ?1
                    """)
                try newest.bind(Int64(quarantineShown), at: 1)
                while try newest.step() {
                    guard let action = QuarantineAction(rawValue: newest.string(at: 2)) else { continue }
                    figures.newestQuarantine.append(QuarantineEntry(
                        batchID: UInt64(max(0, newest.int64(at: 0))), gate: newest.string(at: 1), action: action,
                        reason: newest.string(at: 3), evidence: nil, recordCount: Int(newest.int64(at: 4)),
                        quarantinedAt: newest.string(at: 5), resumedAt: newest.isNull(at: 6) ? nil : newest.string(at: 6)))
                }
            }
            if try hasTable("etl_checkpoint") {
                let query = try db.prepare(
                    "SELECT last_batch_id, CAST(strftime('%s', updated_at) AS INTEGER) FROM etl_checkpoint WHERE id = 1")
                if try query.step() {
                    figures.checkpointBatch = query.int64(at: 0)
                    figures.checkpointUpdatedAt = query.isNull(at: 1) ? nil : query.int64(at: 1)
                }
            }
            if try hasTable("ml_models") {
                let versions = try db.prepare("""
                    SELECT version, status, created_at, json_extract(metrics, '$.roc_auc'), row_count
                    FROM ml_models ORDER BY version DESC LIMIT ?1
                    """)
                try versions.bind(Int64(modelsShown), at: 1)
                while try versions.step() {
                    let numeric = versions.columnType(at: 3) == SQLITE_FLOAT || versions.columnType(at: 3) == SQLITE_INTEGER
                    figures.models.append((versions.int64(at: 0), versions.string(at: 1), versions.string(at: 2),
                                           numeric ? versions.double(at: 3) : nil, versions.int64(at: 4)))
                }
            }
            if try hasTable("ml_models") {
                let query = try db.prepare("""
                    SELECT json_extract(metrics, '$.roc_auc'), CAST(strftime('%s', created_at) AS INTEGER)
                    FROM ml_models WHERE status = 'serving'
                    """)
                if try query.step() {
                    // NaN is stored as the string "NaN": not a number for a gauge.
                    if query.columnType(at: 0) == SQLITE_FLOAT || query.columnType(at: 0) == SQLITE_INTEGER {
                        figures.servingModelROCAUC = query.double(at: 0)
                    }
                    figures.servingModelCreatedAt = query.isNull(at: 1) ? nil : query.int64(at: 1)
                }
            }
            return figures
        }
    }
}
