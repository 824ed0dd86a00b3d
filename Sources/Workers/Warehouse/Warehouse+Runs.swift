import CSQLite

/// The runs of the chain (`etl_runs`): a job's stream is what the source had when that job asked,
/// and "loaded" is a fact of that run, not of the warehouse. The loader records it; that job's
/// trainer waits for it. The next job has a new run id and loads what the source has by then.
extension Warehouse {
    /// Records that run `runID` has started (once: a restarted loader leaves the row as it is).
    /// - Throws: `WarehouseError` (`.locked` past the lock policy's deadline).
    /// - Parameter onBlocked: called while another connection's lock is waited out (heartbeat from it).
    public func recordRunStarted(_ runID: String, onBlocked: (_ waited: Duration) -> Void = { _ in }) throws(WarehouseError) {
        try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) in
            try Self.sqlite(path) { () throws(DatabaseError) in
                let insert = try db.prepare(
                    "INSERT INTO etl_runs (run_id, started_at) VALUES (?, datetime('now')) ON CONFLICT (run_id) DO NOTHING")
                try insert.bind(runID, at: 1)
                try insert.execute()
            }
        }
    }

    /// Records that run `runID`'s stream is committed, up to `lastBatchID`.
    /// - Throws: `WarehouseError` (`.locked` past the lock policy's deadline).
    /// - Parameter onBlocked: called while another connection's lock is waited out (heartbeat from it).
    public func recordStreamLoaded(_ runID: String, lastBatchID: UInt64,
                                   onBlocked: (_ waited: Duration) -> Void = { _ in }) throws(WarehouseError) {
        try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) in
            try Self.sqlite(path) { () throws(DatabaseError) in
                let upsert = try db.prepare("""
                    INSERT INTO etl_runs (run_id, started_at, stream_loaded_at, last_batch_id)
                    VALUES (?, datetime('now'), datetime('now'), ?)
                    ON CONFLICT (run_id) DO UPDATE SET stream_loaded_at = excluded.stream_loaded_at,
                        last_batch_id = excluded.last_batch_id
                    """)
                try upsert.bind(runID, at: 1)
                try upsert.bind(Int64(lastBatchID), at: 2)
                try upsert.execute()
            }
        }
    }

    /// The last batch of run `runID`'s stream once it is committed; nil until then.
    /// - Throws: `WarehouseError.Code.database`.
    public func streamLoaded(_ runID: String) throws(WarehouseError) -> UInt64? {
        try Self.sqlite(path) { () throws(DatabaseError) -> UInt64? in
            let query = try db.prepare("SELECT last_batch_id FROM etl_runs WHERE run_id = ? AND stream_loaded_at IS NOT NULL")
            try query.bind(runID, at: 1)
            guard try query.step() else { return nil }
            return UInt64(max(0, query.int64(at: 0)))
        }
    }
}
