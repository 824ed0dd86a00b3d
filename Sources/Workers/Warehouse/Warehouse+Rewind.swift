import CSQLite
import Pipeline
import Wire

/// Rewinding the warehouse to a batch, so that an operator can recover without SQL (a source that
/// sent bad data the gates could not see, a position a hostile cursor left): every row, batch and
/// quarantine after it removed, and the checkpoint — source position and transformer state — set
/// back to what batch left, in one transaction. The next run loads from there, as if the later
/// batches had never been. Made possible by lineage (migration 009): the batch each fact row came
/// with, and each batch's window state.
extension Warehouse {
    /// One committed batch, as `etl_batches` has it.
    public struct BatchSummary: Equatable, Sendable {
        public var batchID: UInt64
        public var committedAt: String
        public var extracted, inserted, duplicates, dropped, quarantined: Int64
        /// The source position after it.
        public var position: SourcePosition
    }

    /// What a rewind removes and where the chain resumes.
    public struct Rewind: Equatable, Sendable {
        /// The batch the warehouse ends at (0: nothing left).
        public var toBatch: UInt64
        /// The batch it was at.
        public var fromBatch: UInt64
        public var factRows: Int64
        public var predictions: Int64
        public var batches: Int64
        public var quarantinedBatches: Int64
        /// Open halts among the quarantined batches removed (lifted with them).
        public var openHalts: Int64
        /// Where extraction resumes.
        public var position: SourcePosition
    }

    /// The newest `limit` batches, newest first.
    /// - Throws: `WarehouseError.Code.database`.
    public func recentBatches(limit: Int) throws(WarehouseError) -> [BatchSummary] {
        try Self.sqlite(path) { () throws(DatabaseError) -> [BatchSummary] in
            let query = try db.prepare("""
                SELECT batch_id, committed_at, rows_extracted, rows_inserted, rows_duplicate, rows_dropped, rows_quarantined,
                    cursor, cursor_skip FROM etl_batches ORDER BY batch_id DESC LIMIT ?1
                """)
            try query.bind(Int64(limit), at: 1)
            var batches: [BatchSummary] = []
            while try query.step() {
                let cursor = query.string(at: 7)
                batches.append(BatchSummary(
                    batchID: UInt64(max(0, query.int64(at: 0))), committedAt: query.string(at: 1), extracted: query.int64(at: 2),
                    inserted: query.int64(at: 3), duplicates: query.int64(at: 4), dropped: query.int64(at: 5),
                    quarantined: query.int64(at: 6),
                    position: SourcePosition(cursor: cursor.isEmpty ? nil : cursor, skip: Int(query.int64(at: 8)))))
            }
            return batches
        }
    }

    /// What rewinding to `batch` would do, reading only.
    /// - Throws: `WarehouseError.cannotRewind` when it is past the checkpoint, or when a batch
    ///   concerned was committed before lineage was recorded; `.database`.
    public func rewindPlan(toBatch batch: UInt64) throws(WarehouseError) -> Rewind {
        try db.transaction(.deferred, wrapping: { WarehouseError($0, path: path) }) { () throws(WarehouseError) in
            try plan(batch)
        }
    }

    /// Rewinds to `batch` in one transaction (`BEGIN IMMEDIATE`, waited out while locked). The
    /// caller takes a verified backup first (`cidp checkpoint rewind` does).
    /// - Returns: what was removed and where extraction resumes.
    /// - Throws: as `rewindPlan(toBatch:)`; `.locked` past the lock policy's deadline. Nothing is
    ///   changed on any failure.
    public func rewind(toBatch batch: UInt64, onBlocked: (_ waited: Duration) -> Void = { _ in }) throws(WarehouseError) -> Rewind {
        try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) -> Rewind in
            try db.transaction(.immediate, wrapping: { WarehouseError($0, path: path) }) { () throws(WarehouseError) in
                let plan = try plan(batch)
                guard plan.fromBatch > batch else { return plan }
                try Self.sqlite(path) { () throws(DatabaseError) in
                    let after = Int64(batch)
                    for sql in [
                        """
                        DELETE FROM ai_telemetry_predictions WHERE EXISTS (SELECT 1 FROM fact_telemetry_features f
                            WHERE f.pump_id = ai_telemetry_predictions.pump_id AND f.timestamp = ai_telemetry_predictions.timestamp
                            AND f.batch_id > ?1)
                        """,
                        "DELETE FROM fact_telemetry_features WHERE batch_id > ?1",
                        "DELETE FROM etl_quarantine WHERE batch_id > ?1",
                        "DELETE FROM etl_batches WHERE batch_id > ?1",
                    ] {
                        let statement = try db.prepare(sql)
                        try statement.bind(after, at: 1)
                        try statement.execute()
                    }
                    if batch == 0 {
                        try db.execute("DELETE FROM etl_checkpoint")
                    } else {
                        let update = try db.prepare("""
                            UPDATE etl_checkpoint SET last_batch_id = b.batch_id, cursor = b.cursor, cursor_skip = b.cursor_skip,
                                window_state = b.window_state,
                                rows_loaded = (SELECT total(rows_inserted) FROM etl_batches),
                                rows_dropped = (SELECT total(rows_dropped) FROM etl_batches),
                                updated_at = datetime('now')
                            FROM (SELECT * FROM etl_batches WHERE batch_id = ?1) AS b
                            """)
                        try update.bind(after, at: 1)
                        try update.execute()
                    }
                }
                return plan
            }
        }
    }

    /// The body of both: checks and counts, in the caller's transaction.
    private func plan(_ batch: UInt64) throws(WarehouseError) -> Rewind {
        guard let checkpoint = try checkpoint() else {
            throw WarehouseError(.cannotRewind("nothing was ever committed"), path: path)
        }
        guard batch <= checkpoint.batchID else {
            throw WarehouseError(.cannotRewind("batch \(batch) is past the checkpoint's last batch \(checkpoint.batchID)"), path: path)
        }
        func integer(_ sql: String) throws(WarehouseError) -> Int64 {
            try Self.sqlite(path) { () throws(DatabaseError) -> Int64 in
                let statement = try db.prepare(sql)
                try statement.bind(Int64(batch), at: 1)
                _ = try statement.step()
                return statement.int64(at: 0)
            }
        }
        var position = SourcePosition.start
        if batch > 0 {
            let found = try Self.sqlite(path) { () throws(DatabaseError) -> (String, Int64, Bool)? in
                let row = try db.prepare("SELECT cursor, cursor_skip, window_state IS NOT NULL FROM etl_batches WHERE batch_id = ?1")
                try row.bind(Int64(batch), at: 1)
                guard try row.step() else { return nil }
                return (row.string(at: 0), row.int64(at: 1), row.int64(at: 2) != 0)
            }
            guard let (cursor, skip, hasState) = found else {
                throw WarehouseError(.cannotRewind("batch \(batch) is not in etl_batches"), path: path)
            }
            guard hasState else {
                throw WarehouseError(.cannotRewind("batch \(batch) was committed before lineage was recorded "
                    + "(migration 009): its transformer state is not kept"), path: path)
            }
            position = SourcePosition(cursor: cursor.isEmpty ? nil : cursor, skip: Int(skip))
        }
        let withoutLineage = try integer("SELECT count(*) FROM etl_batches WHERE batch_id > ?1 AND window_state IS NULL")
        guard withoutLineage == 0 else {
            throw WarehouseError(.cannotRewind("\(withoutLineage) batches after batch \(batch) were committed before lineage "
                + "was recorded (migration 009): their rows cannot be told apart"), path: path)
        }
        return Rewind(
            toBatch: batch, fromBatch: checkpoint.batchID,
            factRows: try integer("SELECT count(*) FROM fact_telemetry_features WHERE batch_id > ?1"),
            predictions: try integer("""
                SELECT count(*) FROM ai_telemetry_predictions p JOIN fact_telemetry_features f
                    ON f.pump_id = p.pump_id AND f.timestamp = p.timestamp WHERE f.batch_id > ?1
                """),
            batches: try integer("SELECT count(*) FROM etl_batches WHERE batch_id > ?1"),
            quarantinedBatches: try integer("SELECT count(*) FROM etl_quarantine WHERE batch_id > ?1"),
            openHalts: try integer("SELECT count(*) FROM etl_quarantine WHERE batch_id > ?1 AND action = 'halt' AND resumed_at IS NULL"),
            position: position)
    }
}
