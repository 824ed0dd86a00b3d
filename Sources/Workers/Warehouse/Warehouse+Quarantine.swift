import Pipeline
import Wire

/// The integrity gates' side of the warehouse: the batches set aside in `etl_quarantine`
/// (written by `commit` with a `Quarantine`), the halts waiting for an operator, and their resume.
extension Warehouse {
    /// The quarantined batches, newest (highest batch id) first, without their records.
    /// - Parameter limit: at most this many (none when below 1).
    /// - Throws: `WarehouseError`: `.badRow` for a row that does not decode, `.database`.
    public func quarantine(limit: Int) throws(WarehouseError) -> [QuarantineEntry] {
        try entries(where: "1", orderedBy: "batch_id DESC", limit: max(0, limit))
    }

    /// The halts no operator has resumed yet (`action = 'halt' AND resumed_at IS NULL`), by
    /// batch id. Retried like `commit` while another connection holds an exclusive lock.
    /// - Throws: `WarehouseError`: `.locked` past the lock policy's deadline, `.badRow`, `.database`.
    public func openHalts(onBlocked: (_ waited: Duration) -> Void = { _ in }) throws(WarehouseError) -> [QuarantineEntry] {
        try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) in
            try entries(where: "action = 'halt' AND resumed_at IS NULL", orderedBy: "batch_id", limit: -1)
        }
    }

    /// Marks every open halt resumed, in one transaction: `resumed_at` = `unixSeconds` as
    /// `YYYY-MM-DD HH:MM:SS` UTC, or SQLite's `datetime('now')` when nil. Retried like `commit`.
    /// - Returns: how many halts were resumed (0 when none was open).
    ///   A time outside years 0000–9999 is a bug of the caller's: it traps.
    /// - Throws: `WarehouseError`: `.locked` past the lock policy's deadline, `.database`;
    ///   nothing is changed then.
    public func resumeHalts(
        at unixSeconds: Int64? = nil, onBlocked: (_ waited: Duration) -> Void = { _ in }
    ) throws(WarehouseError) -> Int {
        if let unixSeconds {
            precondition(UTCTimestamp.isRepresentable(unixSeconds), "resume time \(unixSeconds) outside years 0000-9999")
        }
        let time = unixSeconds.map(UTCTimestamp.string)
        return try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) -> Int in
            try db.transaction(.immediate, wrapping: { WarehouseError($0, path: path) }) { () throws(WarehouseError) -> Int in
                try Self.sqlite(path) { () throws(DatabaseError) -> Int in
                    let update = try db.prepare("""
                        UPDATE etl_quarantine SET resumed_at = coalesce(?, datetime('now'))
                        WHERE action = 'halt' AND resumed_at IS NULL
                        """)
                    if let time { try update.bind(time, at: 1) } else { try update.bindNull(at: 1) }
                    try update.execute()
                    return Int(db.changes)
                }
            }
        }
    }

    /// The records of quarantined batch `batchID` as stored: a JSON array (`quarantineJSON`),
    /// or nil when that batch is not quarantined.
    /// - Throws: `WarehouseError.Code.database`.
    public func quarantinedRecords(batchID: UInt64) throws(WarehouseError) -> String? {
        guard let id = Int64(exactly: batchID) else { return nil }
        return try Self.sqlite(path) { () throws(DatabaseError) -> String? in
            let query = try db.prepare("SELECT records FROM etl_quarantine WHERE batch_id = ?")
            try query.bind(id, at: 1)
            guard try query.step() else { return nil }
            return query.string(at: 0)
        }
    }

    /// The entries matching `condition` (SQL of ours, never the caller's), in `order`;
    /// `limit` -1 for all.
    private func entries(where condition: String, orderedBy order: String, limit: Int) throws(WarehouseError) -> [QuarantineEntry] {
        let query = try Self.sqlite(path) { () throws(DatabaseError) in
            let query = try db.prepare("""
                SELECT batch_id, gate, action, reason, evidence, record_count, quarantined_at, resumed_at
                FROM etl_quarantine WHERE \(condition) ORDER BY \(order) LIMIT ?
                """)
            try query.bind(Int64(limit), at: 1)
            return query
        }
        var entries: [QuarantineEntry] = []
        while try Self.sqlite(path, { () throws(DatabaseError) in try query.step() }) {
            let batchID = query.int64(at: 0)
            guard let action = QuarantineAction(rawValue: query.string(at: 2)) else {
                throw WarehouseError(.badRow("etl_quarantine batch \(batchID): action '\(query.string(at: 2))'"), path: path)
            }
            guard batchID >= 0, query.int64(at: 5) >= 0 else {
                throw WarehouseError(.badRow("etl_quarantine batch \(batchID): negative id or record count"), path: path)
            }
            entries.append(QuarantineEntry(
                batchID: UInt64(batchID), gate: query.string(at: 1), action: action, reason: query.string(at: 3),
                evidence: query.isNull(at: 4) ? nil : query.string(at: 4), recordCount: Int(query.int64(at: 5)),
                quarantinedAt: query.string(at: 6), resumedAt: query.isNull(at: 7) ? nil : query.string(at: 7)))
        }
        return entries
    }

    /// `records` as `etl_quarantine.records` stores them: a JSON array of objects laid out like
    /// the API's records — `timestamp` (`YYYY-MM-DDTHH:MM:SSZ`; Unix seconds as a number when
    /// outside years 0000–9999), `pump_id`, `flow_rate`, `pressure`, `vibration`, `temperature`,
    /// `failure` — then `vibration_rolling_mean` and `pressure_rolling_mean` when computed.
    /// Finite readings round-trip exactly (as the simulator writes them); NaN is `null`, as the
    /// API serves a missing reading; +∞ and −∞ are the strings `"Infinity"` and `"-Infinity"`
    /// (as `ml_models.metrics` writes them).
    static func quarantineJSON(_ records: [TelemetryRecord]) -> String {
        var json = TelemetryJSON(capacity: 2 + records.count * 200)
        json.append("[")
        for (index, record) in records.enumerated() {
            if index > 0 { json.append(",") }
            json.append("{\"timestamp\":")
            if UTCTimestamp.isRepresentable(record.timestamp) {
                json.append("\"")
                json.appendTimestamp(record.timestamp)
                json.append("\"")
            } else {
                json.appendInteger(record.timestamp)
            }
            json.append(",\"pump_id\":")
            json.appendString(record.pumpID)
            json.append(",\"flow_rate\":")
            json.appendQuarantinedReading(record.flowRate)
            json.append(",\"pressure\":")
            json.appendQuarantinedReading(record.pressure)
            json.append(",\"vibration\":")
            json.appendQuarantinedReading(record.vibration)
            json.append(",\"temperature\":")
            json.appendQuarantinedReading(record.temperature)
            json.append(",\"failure\":")
            json.appendInteger(Int64(record.failure))
            if let mean = record.vibrationRollingMean {
                json.append(",\"vibration_rolling_mean\":")
                json.appendQuarantinedReading(mean)
            }
            if let mean = record.pressureRollingMean {
                json.append(",\"pressure_rolling_mean\":")
                json.appendQuarantinedReading(mean)
            }
            json.append("}")
        }
        json.append("]")
        return String(decoding: json.bytes, as: UTF8.self)
    }
}

extension TelemetryJSON {
    /// A reading of a quarantined record: NaN `null`, infinities `"Infinity"`/`"-Infinity"`.
    fileprivate mutating func appendQuarantinedReading(_ value: Double) {
        if value.isNaN {
            append("null")
        } else if value.isInfinite {
            value < 0 ? append("\"-Infinity\"") : append("\"Infinity\"")
        } else {
            appendDouble(value)
        }
    }
}
