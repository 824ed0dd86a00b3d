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
    }

    /// Reads `Figures` without writing anything (`PRAGMA query_only`), on a connection of its
    /// own that waits at most `busyTimeout` for a lock. Tables a warehouse does not have yet
    /// read as empty.
    /// - Throws: `WarehouseError` when the file cannot be opened or read.
    public static func figures(path: String, busyTimeout: Duration = .milliseconds(200)) throws(WarehouseError) -> Figures {
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
