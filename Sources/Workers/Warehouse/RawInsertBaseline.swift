import Wire

/// The yardstick of the ETL benchmark: how fast plain SQLite inserts fact rows on this machine.
///
/// Same file settings (WAL, `synchronous=NORMAL`), same table and unique key, same batch size
/// and one transaction per batch as `Warehouse.commit`, but none of the warehouse's work: no
/// checkpoint, no batch record, no validation, rows generated in the loop.
public enum RawInsertBaseline {
    /// Inserts `rows` generated rows (hourly readings of 50 pumps, all keys new) into the fact table
    /// of the database at `path`, creating it if missing, in transactions of `batchSize` rows.
    /// - Returns: rows per second, over the inserts and commits only.
    /// - Throws: `DatabaseError` (e.g. a key already present in a reused file: use a fresh one).
    public static func rawInsertRowsPerSecond(path: String, rows: Int, batchSize: Int = 1000) throws(DatabaseError) -> Double {
        precondition(rows >= 0 && batchSize > 0, "rows \(rows), batch size \(batchSize)")
        let db = try Database(path: path, busyTimeout: .seconds(5))
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384")
        try db.execute(Warehouse.factTableSQL)
        let insert = try db.prepare("""
            INSERT INTO fact_telemetry_features (timestamp, pump_id, flow_rate, pressure, vibration,
                temperature, failure, vibration_rolling_mean, pressure_rolling_mean)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let pumps = (1...50).map { "P_" + String(repeating: "0", count: $0 < 10 ? 2 : 1) + String($0) }
        let timestamp = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: UTCTimestamp.textLength)
        defer { timestamp.deallocate() }
        let start: Int64 = 1_704_067_200  // 2024-01-01 00:00:00
        let clock = ContinuousClock()
        let began = clock.now
        var row = 0
        while row < rows {
            let end = min(rows, row + batchSize)
            try db.transaction(.immediate) { () throws(DatabaseError) in
                for index in row..<end {
                    let reading = Double(index % 997)
                    UTCTimestamp.write(start + Int64(index / pumps.count) * 3600, into: timestamp)
                    try insert.bind(utf8: UnsafeBufferPointer(timestamp), at: 1)
                    try insert.bind(pumps[index % pumps.count], at: 2)
                    try insert.bind(500 + reading, at: 3)
                    try insert.bind(5 + reading / 1000, at: 4)
                    try insert.bind(2 + reading / 500, at: 5)
                    try insert.bind(45 + reading / 100, at: 6)
                    try insert.bind(Int64(index % 20 == 0 ? 1 : 0), at: 7)
                    try insert.bind(2 + reading / 400, at: 8)
                    try insert.bind(5 + reading / 900, at: 9)
                    try insert.execute()
                }
            }
            row = end
        }
        let seconds = began.duration(to: clock.now).seconds
        return seconds > 0 ? Double(rows) / seconds : .infinity
    }
}
