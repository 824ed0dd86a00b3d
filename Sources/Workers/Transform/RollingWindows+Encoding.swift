/// The rolling-window state as bytes, for the loader to store with its checkpoint.
///
/// Format 2, little-endian, nothing implicit:
///
/// | field | encoding |
/// | --- | --- |
/// | format | `UInt8`, 2 (1: the same without the last fields at the end) |
/// | window width | `UInt8`, 3 (state of another width is refused, not reinterpreted) |
/// | pumps | `UInt32` count, then per pump, strictly ascending by id bytes: |
/// | · id | `UInt8` byte count (1…255), UTF-8 |
/// | · last timestamp | `Int64` |
/// | · values held | `UInt8`, 1…3 |
/// | · vibration, then pressure | the held values oldest first, the running sum, the add and remove compensations (each `UInt64` IEEE-754 bits) |
/// | last fields | per pump, in the same order: `UInt8` 1 then its last record's flow rate and temperature (finite `UInt64` IEEE-754 bits) and failure label (`UInt8`), or `UInt8` 0 when unknown |
///
/// Format 1 (checkpoints written before the last fields were kept) still decodes: its pumps'
/// last fields are unknown until their next record. The same state always gives the same bytes.
extension RollingWindows {
    /// The format byte this version writes.
    public static let encodingFormat: UInt8 = 2
    /// The first format, still read: no last fields.
    public static let formatWithoutLastFields: UInt8 = 1

    /// Bytes of a pump entry with a 1-byte id and one value held.
    private static let minimumEntrySize = 1 + 1 + 8 + 1 + 2 * 4 * 8

    /// The state as bytes, pumps sorted by id.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(6 + pumps.count * (Self.minimumEntrySize + 16 + 32))
        bytes.append(Self.encodingFormat)
        bytes.append(UInt8(RollingMean.width))
        append(UInt32(pumps.count), to: &bytes)
        for pumpID in sortedPumpIDs {
            let pump = window(of: pumpID)!
            // Ids longer than 255 bytes never get here: they fail the pump id pattern.
            precondition(pumpID.utf8.count <= 255, "pump id of \(pumpID.utf8.count) bytes")
            bytes.append(UInt8(pumpID.utf8.count))
            bytes.append(contentsOf: pumpID.utf8)
            append(pump.lastTimestamp, to: &bytes)
            bytes.append(UInt8(pump.count))
            for mean in [pump.vibration, pump.pressure] {
                for value in mean.window { append(value.bitPattern, to: &bytes) }
                append(mean.sum.bitPattern, to: &bytes)
                append(mean.addCompensation.bitPattern, to: &bytes)
                append(mean.removeCompensation.bitPattern, to: &bytes)
            }
        }
        for pumpID in sortedPumpIDs {
            guard let fields = window(of: pumpID)!.lastFields else {
                bytes.append(0)
                continue
            }
            bytes.append(1)
            append(fields.flowRate.bitPattern, to: &bytes)
            append(fields.temperature.bitPattern, to: &bytes)
            bytes.append(fields.failure)
        }
        return bytes
    }

    /// Restores state made by `encoded()`.
    ///
    /// Every count and length is checked against the bytes left before anything is allocated,
    /// and every double must be finite, so hostile input throws instead of trapping,
    /// exhausting memory or poisoning later means.
    /// - Throws: `TransformError` with code `badWindowState`, naming the pump and field.
    public init(decoding bytes: [UInt8]) throws(TransformError) {
        self.init()
        var reader = StateReader(bytes: bytes)
        let format = try reader.read(UInt8.self, "the format")
        guard format == Self.encodingFormat || format == Self.formatWithoutLastFields else {
            throw reader.failure("unknown format \(format)")
        }
        let width = try reader.read(UInt8.self, "the window width")
        guard width == RollingMean.width else {
            throw reader.failure("window width \(width), this version computes \(RollingMean.width)")
        }
        let count = Int(try reader.read(UInt32.self, "the pump count"))
        guard count <= reader.remaining / Self.minimumEntrySize else {
            throw reader.failure("claims \(count) pumps, \(reader.remaining) bytes left")
        }
        var previous: String?
        for index in 0..<count {
            let pumpID = try reader.readPumpID(index)
            if let previous, !Self.precedes(previous, pumpID) {
                throw reader.failure("pump \(index) '\(pumpID)' not after '\(previous)' (ids must be unique and sorted)")
            }
            previous = pumpID
            let lastTimestamp = try reader.read(Int64.self, "the last timestamp of pump '\(pumpID)'")
            let held = Int(try reader.read(UInt8.self, "the values held by pump '\(pumpID)'"))
            guard (1...RollingMean.width).contains(held) else {
                throw reader.failure("pump '\(pumpID)' holds \(held) values (expected 1…\(RollingMean.width))")
            }
            var window = PumpWindow(lastTimestamp: lastTimestamp)
            window.vibration = try reader.readMean(held, "the vibration of pump '\(pumpID)'")
            window.pressure = try reader.readMean(held, "the pressure of pump '\(pumpID)'")
            insert(pumpID, window)
        }
        if format == Self.encodingFormat {
            // In the order of the entries, which is the sorted order of their ids.
            for (slot, pumpID) in pumpIDs.enumerated() {
                let known = try reader.read(UInt8.self, "whether the last fields of pump '\(pumpID)' are known")
                switch known {
                case 0:
                    continue
                case 1:
                    let flowRate = try reader.readFiniteDouble("the last flow rate of pump '\(pumpID)'")
                    let temperature = try reader.readFiniteDouble("the last temperature of pump '\(pumpID)'")
                    let failure = try reader.read(UInt8.self, "the last failure label of pump '\(pumpID)'")
                    setLastFields(LastFields(flowRate: flowRate, temperature: temperature, failure: failure), slot: slot)
                default:
                    throw reader.failure("pump '\(pumpID)': last fields marked \(known) (expected 0 or 1)")
                }
            }
        }
        guard reader.remaining == 0 else { throw reader.failure("\(reader.remaining) unexpected bytes after the end") }
    }

    private func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        bytes.appendLittleEndian(value)
    }
}

extension [UInt8] {
    /// Appends `value`'s bytes, least significant first.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Reads the encoding field by field, each read checked against the bytes left.
struct StateReader {
    let bytes: [UInt8]
    var offset = 0
    /// The error code a failure is reported with.
    var code: (String) -> TransformError.Code = { .badWindowState($0) }

    var remaining: Int { bytes.count - offset }

    func failure(_ what: String) -> TransformError {
        TransformError(code("\(what) (at byte \(offset) of \(bytes.count))"))
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(TransformError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw failure("\(remaining) bytes left where \(field()) needs \(size)") }
        let value = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += size
        return value
    }

    mutating func readFiniteDouble(_ field: @autoclosure () -> String) throws(TransformError) -> Double {
        let value = Double(bitPattern: try read(UInt64.self, field()))
        guard value.isFinite else { throw failure("\(field()) is not finite (\(value))") }
        return value
    }

    mutating func readPumpID(_ index: Int) throws(TransformError) -> String {
        let length = Int(try read(UInt8.self, "the id length of pump \(index)"))
        guard length > 0 else { throw failure("pump \(index) has an empty id") }
        guard length <= remaining else { throw failure("the id of pump \(index) claims \(length) bytes, \(remaining) left") }
        guard let id = String(validating: bytes[offset..<offset + length], as: UTF8.self) else {
            throw failure("the id of pump \(index) is not valid UTF-8")
        }
        offset += length
        return id
    }

    mutating func readMean(_ held: Int, _ field: String) throws(TransformError) -> RollingMean {
        var values: [Double] = []
        for index in 0..<held { values.append(try readFiniteDouble("value \(index) of \(field)")) }
        let sum = try readFiniteDouble("the sum of \(field)")
        let add = try readFiniteDouble("the add compensation of \(field)")
        let remove = try readFiniteDouble("the remove compensation of \(field)")
        return RollingMean(values: values, sum: sum, addCompensation: add, removeCompensation: remove)
    }
}
