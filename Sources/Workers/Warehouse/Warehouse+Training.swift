import CSQLite

/// How far the loader has got, as the checkpoint says: what the trainer watches to know that new
/// data was committed, and what a model records as the data it was trained on.
public struct Watermark: Equatable, Sendable {
    /// The last committed batch.
    public var batchID: UInt64
    /// Fact rows loaded so far.
    public var rowsLoaded: Int64

    /// A watermark with every field given.
    public init(batchID: UInt64, rowsLoaded: Int64) {
        self.batchID = batchID
        self.rowsLoaded = rowsLoaded
    }
}

/// The fact table column by column, in key order (pump, then timestamp), read in one snapshot:
/// what the trainer fits on. One array per column and no object per row, so a million rows take
/// about 61 MB.
public struct TrainingData: Sendable {
    /// The columns of `columns`, in order.
    public static let featureNames = [
        "flow_rate", "pressure", "vibration", "temperature", "vibration_rolling_mean", "pressure_rolling_mean",
    ]

    /// Each row's timestamp, Unix seconds UTC.
    public var timestamps: [Int64]
    /// The distinct pump ids, in key order (byte order).
    public var pumps: [String]
    /// Each row's pump, as an index into `pumps`.
    public var pumpIndices: [Int32]
    /// The six feature columns of `featureNames`, each with one value per row.
    public var columns: [[Double]]
    /// Each row's `failure`, 0 or 1.
    public var labels: [UInt8]
    /// 32 hex digits identifying the rows' content (see `Warehouse.trainingData()`).
    public var fingerprint: String
    /// The checkpoint in the same snapshot as the rows; nil before the first commit.
    public var watermark: Watermark?

    /// Data with every field given; the arrays are expected to have one entry per row.
    public init(
        timestamps: [Int64], pumps: [String], pumpIndices: [Int32], columns: [[Double]], labels: [UInt8],
        fingerprint: String, watermark: Watermark?
    ) {
        self.timestamps = timestamps
        self.pumps = pumps
        self.pumpIndices = pumpIndices
        self.columns = columns
        self.labels = labels
        self.fingerprint = fingerprint
        self.watermark = watermark
    }

    /// The number of rows.
    public var count: Int { timestamps.count }

    /// The pump id of row `row`.
    public func pumpID(atRow row: Int) -> String { pumps[Int(pumpIndices[row])] }
}

extension Warehouse {
    /// Reads the whole fact table for training, in one read transaction (so the rows, their count
    /// and the watermark are one snapshot, whatever the loader commits meanwhile): `count(*)` to
    /// size the arrays, then one prepared `SELECT … ORDER BY pump_id, timestamp` (the key's order:
    /// no sort) streamed into them.
    ///
    /// The fingerprint is the 128-bit FNV-1a of, for each row in key order: the timestamp
    /// (Int64, little-endian), the pump's index (Int32 LE), the six features' IEEE-754 bits (UInt64
    /// LE) and the label byte; then the row count (UInt64 LE) and, for each pump in order, its
    /// UTF-8 length (UInt64 LE) and bytes. Identical tables hash the same; any changed value,
    /// added or removed row hashes differently.
    /// - Throws: `WarehouseError.Code.badRow` for a row the trainer must not use (a timestamp not
    ///   `YYYY-MM-DD HH:MM:SS`, a feature not stored as REAL, a failure flag not 0 or 1), or the
    ///   checkpoint's errors, or `.database`.
    public func trainingData() throws(WarehouseError) -> TrainingData {
        try db.transaction(.deferred, wrapping: { WarehouseError($0, path: path) }) {
            () throws(WarehouseError) -> TrainingData in
            let rows = try Self.sqlite(path) { () throws(DatabaseError) -> Int in
                let count = try db.prepare("SELECT count(*) FROM fact_telemetry_features")
                _ = try count.step()
                return Int(count.int64(at: 0))
            }
            var data = try readColumns(reserving: rows)
            data.watermark = try watermark()
            return data
        }
    }

    /// The checkpoint's batch and row count, or nil before the first commit: cheap enough
    /// to poll.
    /// - Throws: `WarehouseError.Code.badCheckpoint`, `.database`.
    public func watermark() throws(WarehouseError) -> Watermark? {
        try checkpoint().map { Watermark(batchID: $0.batchID, rowsLoaded: $0.rowsLoaded) }
    }

    /// The body of `trainingData()`: the rows and their fingerprint, without the watermark.
    private func readColumns(reserving rows: Int) throws(WarehouseError) -> TrainingData {
        let query = try Self.sqlite(path) { () throws(DatabaseError) in
            try db.prepare("""
                SELECT timestamp, pump_id, failure, flow_rate, pressure, vibration, temperature,
                    vibration_rolling_mean, pressure_rolling_mean
                FROM fact_telemetry_features ORDER BY pump_id, timestamp
                """)
        }
        defer { query.reset() }
        var timestamps: [Int64] = [], pumpIndices: [Int32] = [], labels: [UInt8] = []
        timestamps.reserveCapacity(rows)
        pumpIndices.reserveCapacity(rows)
        labels.reserveCapacity(rows)
        var features = [[Double]](repeating: [], count: TrainingData.featureNames.count)
        for index in features.indices { features[index].reserveCapacity(rows) }
        var pumps: [String] = []
        var currentPump: [UInt8] = []
        var hash = FNV1a128()
        func bad(_ why: String) -> WarehouseError {
            WarehouseError(.badRow("\(query.string(at: 1)) at \(query.string(at: 0)): \(why)"), path: path)
        }
        while try Self.sqlite(path, { () throws(DatabaseError) in try query.step() }) {
            guard let timestamp = query.withUTF8(at: 0, UTCTimestamp.parse) else {
                throw bad("timestamp is not YYYY-MM-DD HH:MM:SS")
            }
            // Rows come in byte order of pump_id, so each pump's rows are contiguous.
            let samePump = query.withUTF8(at: 1) { $0.elementsEqual(currentPump) }
            if !samePump || pumps.isEmpty {
                currentPump = query.withUTF8(at: 1) { Array($0) }
                pumps.append(String(decoding: currentPump, as: UTF8.self))
            }
            let failure = query.int64(at: 2)
            guard query.columnType(at: 2) == SQLITE_INTEGER, failure == 0 || failure == 1 else {
                throw bad("failure is \(query.string(at: 2)), expected 0 or 1")
            }
            let pumpIndex = Int32(pumps.count - 1)
            timestamps.append(timestamp)
            pumpIndices.append(pumpIndex)
            labels.append(UInt8(failure))
            hash.combine(UInt64(bitPattern: timestamp))
            for byte in 0..<4 { hash.combine(UInt8(truncatingIfNeeded: pumpIndex >> (8 * byte))) }
            for column in 0..<features.count {
                let index = Int32(3 + column)
                guard query.columnType(at: index) == SQLITE_FLOAT else {
                    throw bad("\(TrainingData.featureNames[column]) is not stored as REAL")
                }
                let value = query.double(at: index)
                features[column].append(value)
                hash.combine(value.bitPattern)
            }
            hash.combine(UInt8(failure))
        }
        hash.combine(UInt64(timestamps.count))
        for pump in pumps {
            var pump = pump
            hash.combine(UInt64(pump.utf8.count))
            pump.withUTF8 { hash.combine($0) }
        }
        return TrainingData(
            timestamps: timestamps, pumps: pumps, pumpIndices: pumpIndices, columns: features, labels: labels,
            fingerprint: hash.hex, watermark: nil)
    }
}
