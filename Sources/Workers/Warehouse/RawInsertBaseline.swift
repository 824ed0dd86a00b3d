import Pipeline
import Wire

/// The yardstick of the ETL benchmark: how fast plain SQLite inserts fact rows on this machine.
///
/// Same file settings (WAL, `synchronous=NORMAL`), same table and unique key, same batch size
/// and one transaction per batch as `Warehouse.commit`, but none of the warehouse's work: no
/// checkpoint, no batch record, no validation, rows generated in the loop.
public enum RawInsertBaseline {
    /// Inserts the rows `cidp up --records rows` loads — the simulator's records for seed 42 with
    /// their rolling means, computed before the clock starts — into the fact table of a fresh
    /// database at `path`, in transactions of `batchSize` rows, with one prepared statement.
    /// - Returns: rows per second, over the inserts and commits only.
    /// - Throws: `DatabaseError` (e.g. a key already present in a reused file: use a fresh one).
    public static func rawInsertRowsPerSecond(path: String, rows: Int, batchSize: Int = 1000) throws(DatabaseError) -> Double {
        precondition(rows >= 0 && batchSize > 0, "rows \(rows), batch size \(batchSize)")
        let generator = TelemetryGenerator(seed: 42, count: rows)
        var transformer = GatedTransformer(rules: ValidationRules(), gates: .default)
        var batches: [[TelemetryRecord]] = []
        for first in stride(from: 0, to: rows, by: batchSize) {
            let page = generator.page(cursor: first, limit: batchSize)
            // The generator's records all lie before 2023: any later `now` judges them alike.
            switch transformer.process(RecordBatch(batchID: 0, cursor: "", records: page), now: .max) {
            case .passed(let outcome): batches.append(outcome.output.records)
            case .violated(let violation): preconditionFailure("simulator data failed a gate: \(violation)")
            }
        }
        let db = try Database(path: path, busyTimeout: .seconds(5))
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384")
        try db.execute(Warehouse.factTableSQL)
        let insert = try db.prepare("""
            INSERT INTO fact_telemetry_features (timestamp, pump_id, flow_rate, pressure, vibration,
                temperature, failure, vibration_rolling_mean, pressure_rolling_mean)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pump_id, timestamp) DO NOTHING
            """)
        let timestamp = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: UTCTimestamp.textLength)
        defer { timestamp.deallocate() }
        let clock = ContinuousClock()
        let began = clock.now
        for batch in batches {
            try db.transaction(.immediate) { () throws(DatabaseError) in
                for record in batch {
                    UTCTimestamp.write(record.timestamp, into: timestamp)
                    try insert.bind(utf8: UnsafeBufferPointer(timestamp), at: 1)
                    try insert.bind(record.pumpID, at: 2)
                    try insert.bind(record.flowRate, at: 3)
                    try insert.bind(record.pressure, at: 4)
                    try insert.bind(record.vibration, at: 5)
                    try insert.bind(record.temperature, at: 6)
                    try insert.bind(Int64(record.failure), at: 7)
                    try insert.bind(record.vibrationRollingMean ?? 0, at: 8)
                    try insert.bind(record.pressureRollingMean ?? 0, at: 9)
                    try insert.execute()
                }
            }
        }
        let seconds = began.duration(to: clock.now).seconds
        return seconds > 0 ? Double(rows) / seconds : .infinity
    }
}
