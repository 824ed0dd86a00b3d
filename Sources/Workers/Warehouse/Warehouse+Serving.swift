import CSQLite
import Pipeline
import Wire

/// A reading the predictor scores without its rolling means: what `Warehouse.rollingMeans(for:)` needs.
public struct ServingReading: Equatable, Sendable {
    public var pumpID: String
    /// Unix seconds, UTC.
    public var timestamp: Int64
    public var vibration: Double
    public var pressure: Double

    public init(pumpID: String, timestamp: Int64, vibration: Double, pressure: Double) {
        self.pumpID = pumpID
        self.timestamp = timestamp
        self.vibration = vibration
        self.pressure = pressure
    }
}

/// The predictor's reads: the serving model's version (polled) and the rolling means of readings
/// that come without them.
extension Warehouse {
    /// The earliest and latest timestamps the fact table can store (years 0000…9999).
    public static let storableTimestamps: ClosedRange<Int64> = UTCTimestamp.earliest...UTCTimestamp.latest

    /// The version of the serving model, or nil when none serves. One indexed row: cheap enough
    /// to poll every second.
    /// - Throws: `WarehouseError.Code.database`.
    public func servingModelVersion() throws(WarehouseError) -> Int64? {
        try Self.sqlite(path) { () throws(DatabaseError) -> Int64? in
            let query = try db.prepare("SELECT max(version) FROM ml_models WHERE status = 'serving'")
            guard try query.step(), !query.isNull(at: 0) else { return nil }
            return query.int64(at: 0)
        }
    }

    /// The vibration and pressure rolling means of each reading, as the transform stage computes
    /// them (window 3 per pump in timestamp order, partial windows at the start), in one read
    /// snapshot of the warehouse:
    ///
    /// - a reading later than its pump's last loaded row continues the transformer's own windows
    ///   (the checkpoint's state), readings of the same pump in `readings` following each other in
    ///   timestamp order: exactly the means the transformer would give them as the next batch;
    /// - a reading equal to a loaded row (same pump, timestamp, vibration and pressure) gets that
    ///   row's stored means;
    /// - any other reading (earlier than the pump's last row, or differing from the row at its
    ///   timestamp) gets the means of the up to two rows before it and itself, from a fresh window
    ///   (equal to the transformer's to within a few ULPs: pandas' running sums carry a pump's
    ///   whole history, see `RollingMean`).
    /// - Precondition: every timestamp is in `storableTimestamps` and every pump id 1…255 UTF-8 bytes.
    /// - Throws: `WarehouseError` (`.database`, `.badCheckpoint`).
    public func rollingMeans(for readings: [ServingReading]) throws(WarehouseError)
        -> [(vibration: Double, pressure: Double)] {
        guard !readings.isEmpty else { return [] }
        try Self.sqlite(path) { () throws(DatabaseError) in try db.execute("BEGIN") }
        defer { _ = try? Self.sqlite(path) { () throws(DatabaseError) in try db.execute("COMMIT") } }
        // A window state that does not decode (written by a newer transformer) only costs exactness.
        var windows = (try checkpoint()).flatMap { try? RollingWindows(decoding: $0.windowState) }
        let exact = try Self.sqlite(path) { () throws(DatabaseError) in
            try db.prepare("""
                SELECT vibration, pressure, vibration_rolling_mean, pressure_rolling_mean
                FROM fact_telemetry_features WHERE pump_id = ?1 AND timestamp = ?2
                """)
        }
        let previous = try Self.sqlite(path) { () throws(DatabaseError) in
            try db.prepare("""
                SELECT vibration, pressure FROM fact_telemetry_features
                WHERE pump_id = ?1 AND timestamp < ?2 ORDER BY timestamp DESC LIMIT 2
                """)
        }
        var means = [(vibration: Double, pressure: Double)](repeating: (0, 0), count: readings.count)
        // The transformer sees a pump's records in timestamp order; so do the windows here.
        let order = readings.indices.sorted {
            (readings[$0].pumpID, readings[$0].timestamp, $0) < (readings[$1].pumpID, readings[$1].timestamp, $1)
        }
        for index in order {
            let reading = readings[index]
            precondition(Self.storableTimestamps.contains(reading.timestamp), "timestamp \(reading.timestamp) not storable")
            if var current = windows, current.lastTimestamp(of: reading.pumpID).map({ reading.timestamp > $0 }) ?? true {
                var record = TelemetryRecord(timestamp: reading.timestamp, pumpID: reading.pumpID, flowRate: 0,
                                             pressure: reading.pressure, vibration: reading.vibration, temperature: 0,
                                             failure: 0)
                current.apply(to: &record)
                windows = current
                means[index] = (record.vibrationRollingMean!, record.pressureRollingMean!)
                continue
            }
            let text = UTCTimestamp.string(reading.timestamp)
            let stored = try Self.sqlite(path) { () throws(DatabaseError) -> (Double, Double)? in
                defer { exact.reset() }
                try exact.bind(reading.pumpID, at: 1)
                try exact.bind(text, at: 2)
                guard try exact.step(), exact.double(at: 0) == reading.vibration,
                      exact.double(at: 1) == reading.pressure else { return nil }
                return (exact.double(at: 2), exact.double(at: 3))
            }
            if let stored {
                means[index] = stored
                continue
            }
            let before = try Self.sqlite(path) { () throws(DatabaseError) -> [(Double, Double)] in
                defer { previous.reset() }
                try previous.bind(reading.pumpID, at: 1)
                try previous.bind(text, at: 2)
                var rows: [(Double, Double)] = []
                while try previous.step() { rows.append((previous.double(at: 0), previous.double(at: 1))) }
                return rows.reversed()
            }
            var vibration = RollingMean(), pressure = RollingMean()
            for (v, p) in before {
                _ = vibration.append(v)
                _ = pressure.append(p)
            }
            means[index] = (vibration.append(reading.vibration), pressure.append(reading.pressure))
        }
        return means
    }
}
