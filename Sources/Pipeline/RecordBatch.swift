import Wire

/// A bounded batch of records and the source position after it: the unit that is sent,
/// acknowledged, re-sent, committed or quarantined (the payload of `FrameKind.recordBatch`).
///
/// Encoding (little-endian; strings are a `UInt32` byte count then UTF-8):
///
/// | field | encoding |
/// | --- | --- |
/// | format | `UInt8`, 2 |
/// | batch id | `UInt64` |
/// | position | `UInt8` 1 and a string (the cursor), or `UInt8` 0 (the first page); then `UInt32`, records of that page taken |
/// | pump table | `UInt32` count, then that many distinct strings |
/// | records | `UInt32` count, then per record: timestamp `Int64`, pump index `UInt32`, flow rate, pressure, vibration, temperature (each `UInt64` IEEE-754 bits), failure `UInt8`, flags `UInt8` (bit 0: vibration rolling mean follows, bit 1: pressure rolling mean follows), then the present means |
public struct RecordBatch: Equatable, Sendable {
    /// Identifies the batch for acknowledgement and idempotent commits.
    public var batchID: UInt64
    /// The source position after this batch: where extraction resumes once it is committed.
    public var position: SourcePosition
    /// The records, in source order.
    public var records: [TelemetryRecord]

    /// The format byte this version writes and reads.
    public static let format: UInt8 = 2

    /// A batch numbered `batchID` ending at `position`.
    public init(batchID: UInt64, position: SourcePosition, records: [TelemetryRecord]) {
        self.batchID = batchID
        self.position = position
        self.records = records
    }

    /// A batch numbered `batchID` after which extraction resumes at the page `cursor`, from its first record.
    public init(batchID: UInt64, cursor: String, records: [TelemetryRecord]) {
        self.init(batchID: batchID, position: SourcePosition(cursor: cursor), records: records)
    }

    /// Bytes of a record without its rolling means.
    private static let fixedRecordSize = 8 + 4 + 4 * 8 + 1 + 1
    private static let hasVibrationMean: UInt8 = 1 << 0
    private static let hasPressureMean: UInt8 = 1 << 1

    /// The batch as a frame payload.
    public func encoded() -> [UInt8] {
        var pumpIndices: [String: UInt32] = [:]
        var pumps: [String] = []
        for record in records where pumpIndices[record.pumpID] == nil {
            pumpIndices[record.pumpID] = UInt32(pumps.count)
            pumps.append(record.pumpID)
        }
        var writer = PayloadWriter(capacity: 40 + (position.cursor?.utf8.count ?? 0) + pumps.count * 12
                                       + records.count * (Self.fixedRecordSize + 16))
        writer.write(Self.format)
        writer.write(batchID)
        if let cursor = position.cursor {
            writer.write(UInt8(1))
            writer.write(cursor)
        } else {
            writer.write(UInt8(0))
        }
        writer.write(UInt32(clamping: position.skip))
        writer.write(UInt32(pumps.count))
        for pump in pumps { writer.write(pump) }
        writer.write(UInt32(records.count))
        for record in records {
            writer.write(record.timestamp)
            writer.write(pumpIndices[record.pumpID]!)
            writer.write(record.flowRate)
            writer.write(record.pressure)
            writer.write(record.vibration)
            writer.write(record.temperature)
            writer.write(record.failure)
            var flags: UInt8 = 0
            if record.vibrationRollingMean != nil { flags |= Self.hasVibrationMean }
            if record.pressureRollingMean != nil { flags |= Self.hasPressureMean }
            writer.write(flags)
            if let mean = record.vibrationRollingMean { writer.write(mean) }
            if let mean = record.pressureRollingMean { writer.write(mean) }
        }
        return writer.bytes
    }

    /// Decodes a payload made by `encoded()`.
    ///
    /// Every count and length is checked against the bytes left before anything is allocated,
    /// so hostile input throws rather than traps or exhausts memory.
    /// - Throws: `WireError.Code.badPayload` naming the field and, for records, the index.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = PayloadReader(bytes, message: "record batch")
        let format = try reader.read(UInt8.self, "the format")
        guard format == Self.format else { throw reader.failure("unknown format \(format)") }
        batchID = try reader.read(UInt64.self, "the batch id")
        let cursor: String?
        switch try reader.read(UInt8.self, "the position's cursor flag") {
        case 0: cursor = nil
        case 1: cursor = try reader.readString("the cursor")
        case let flag: throw reader.failure("the position's cursor flag is \(flag), expected 0 or 1")
        }
        position = SourcePosition(cursor: cursor, skip: Int(try reader.read(UInt32.self, "the position's skip")))
        let pumpCount = try reader.readCount("the pump table", minimumSize: 4)
        var pumps: [String] = []
        pumps.reserveCapacity(pumpCount)
        var seen = Set<String>(minimumCapacity: pumpCount)
        for index in 0..<pumpCount {
            let pump = try reader.readString("pump id \(index)")
            guard seen.insert(pump).inserted else { throw reader.failure("pump id '\(pump)' twice in the table") }
            pumps.append(pump)
        }
        let recordCount = try reader.readCount("the record count", minimumSize: Self.fixedRecordSize)
        records = []
        records.reserveCapacity(recordCount)
        for index in 0..<recordCount {
            let timestamp = try reader.read(Int64.self, "the timestamp of record \(index)")
            let pumpIndex = try reader.read(UInt32.self, "the pump of record \(index)")
            guard pumpIndex < pumps.count else {
                throw reader.failure("record \(index): pump index \(pumpIndex) outside a table of \(pumps.count)")
            }
            let flowRate = try reader.readDouble("the flow rate of record \(index)")
            let pressure = try reader.readDouble("the pressure of record \(index)")
            let vibration = try reader.readDouble("the vibration of record \(index)")
            let temperature = try reader.readDouble("the temperature of record \(index)")
            let failure = try reader.read(UInt8.self, "the failure flag of record \(index)")
            let flags = try reader.read(UInt8.self, "the flags of record \(index)")
            guard flags & ~(Self.hasVibrationMean | Self.hasPressureMean) == 0 else {
                throw reader.failure("record \(index): unknown flags 0x\(String(flags, radix: 16))")
            }
            let vibrationMean = flags & Self.hasVibrationMean == 0 ? nil : try reader.readDouble("the vibration rolling mean of record \(index)")
            let pressureMean = flags & Self.hasPressureMean == 0 ? nil : try reader.readDouble("the pressure rolling mean of record \(index)")
            records.append(TelemetryRecord(
                timestamp: timestamp, pumpID: pumps[Int(pumpIndex)],
                flowRate: flowRate, pressure: pressure, vibration: vibration, temperature: temperature,
                failure: failure, vibrationRollingMean: vibrationMean, pressureRollingMean: pressureMean))
        }
        try reader.finish()
    }

    /// Decodes the batch a `recordBatch` frame carries.
    /// - Throws: `WireError.Code.badPayload` (with the frame's sequence) for another kind or a bad payload.
    public init(frame: Frame) throws(WireError) {
        guard frame.kind == .recordBatch else {
            throw WireError(.badPayload("\(frame.kind.name) is not a record batch"), sequence: frame.sequence)
        }
        do throws(WireError) {
            try self.init(decoding: frame.payload)
        } catch {
            throw WireError(error.code, channel: error.channel, sequence: frame.sequence)
        }
    }
}
