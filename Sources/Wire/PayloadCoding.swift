/// Builds a payload (the control messages', and `Pipeline`'s messages', hence `package`): little-endian integers, doubles as IEEE-754 bits, `UInt32`-length-prefixed UTF-8.
///
/// Integers are read and written by one concrete method per width, not a generic one: `Pipeline`
/// codes every record's fields through them from another module, where a generic call is not
/// specialised and looks up type metadata per field (the ETL's end-to-end time at 1 M rows grew
/// from 2.5 s to 3.0 s when the batch coding moved from Wire to Pipeline; docs/BENCHMARKS.md).
package struct PayloadWriter {
    package var bytes: [UInt8] = []

    package init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func write(_ value: UInt8) { bytes.appendLittleEndian(value) }
    package mutating func write(_ value: UInt16) { bytes.appendLittleEndian(value) }
    package mutating func write(_ value: UInt32) { bytes.appendLittleEndian(value) }
    package mutating func write(_ value: UInt64) { bytes.appendLittleEndian(value) }
    package mutating func write(_ value: Int64) { bytes.appendLittleEndian(value) }

    package mutating func write(_ value: Double) {
        bytes.appendLittleEndian(value.bitPattern)
    }

    package mutating func write(_ string: String) {
        let utf8 = string.utf8
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// `UInt32` length, then the bytes.
    package mutating func write(lengthPrefixed data: [UInt8]) {
        write(UInt32(data.count))
        bytes.append(contentsOf: data)
    }
}

/// Reads a payload written by `PayloadWriter`, checking every length against the bytes left,
/// so that hostile input throws `badPayload` instead of trapping or allocating without bound.
package struct PayloadReader {
    /// The message being decoded, first in every error ("progress", "record batch").
    package let message: String
    private let bytes: [UInt8]
    private var offset = 0

    package init(_ bytes: [UInt8], message: String) {
        self.bytes = bytes
        self.message = message
    }

    package var remaining: Int { bytes.count - offset }

    /// A `badPayload` error: `message: what`.
    package func failure(_ what: String) -> WireError {
        WireError(.badPayload("\(message): \(what)"))
    }

    package mutating func read(_ type: UInt8.Type, _ field: @autoclosure () -> String) throws(WireError) -> UInt8 {
        try integer(type, field())
    }

    package mutating func read(_ type: UInt16.Type, _ field: @autoclosure () -> String) throws(WireError) -> UInt16 {
        try integer(type, field())
    }

    package mutating func read(_ type: UInt32.Type, _ field: @autoclosure () -> String) throws(WireError) -> UInt32 {
        try integer(type, field())
    }

    package mutating func read(_ type: UInt64.Type, _ field: @autoclosure () -> String) throws(WireError) -> UInt64 {
        try integer(type, field())
    }

    package mutating func read(_ type: Int64.Type, _ field: @autoclosure () -> String) throws(WireError) -> Int64 {
        try integer(type, field())
    }

    /// Specialised in this module for each width above.
    private mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw failure("\(remaining) bytes left where \(field()) needs \(size)")
        }
        let value = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += size
        return value
    }

    package mutating func readDouble(_ field: @autoclosure () -> String) throws(WireError) -> Double {
        Double(bitPattern: try read(UInt64.self, field()))
    }

    package mutating func readString(_ field: @autoclosure () -> String) throws(WireError) -> String {
        let length = Int(try read(UInt32.self, "the length of \(field())"))
        guard length <= remaining else {
            throw failure("\(field()) claims \(length) bytes, \(remaining) left")
        }
        let slice = bytes[offset..<offset + length]
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw failure("\(field()) is not valid UTF-8")
        }
        offset += length
        return string
    }

    /// Bytes written by `PayloadWriter.write(lengthPrefixed:)`.
    package mutating func readBytes(_ field: @autoclosure () -> String) throws(WireError) -> [UInt8] {
        let length = Int(try read(UInt32.self, "the length of \(field())"))
        guard length <= remaining else {
            throw failure("\(field()) claims \(length) bytes, \(remaining) left")
        }
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    /// A `UInt32` element count, checked so that `count` elements of at least `minimumSize`
    /// bytes each fit in what is left (so that reserving `count` is safe).
    package mutating func readCount(_ field: @autoclosure () -> String, minimumSize: Int) throws(WireError) -> Int {
        let count = Int(try read(UInt32.self, field()))
        guard count <= remaining / max(1, minimumSize) else {
            throw failure("\(field()) claims \(count) entries of at least \(minimumSize) bytes, \(remaining) bytes left")
        }
        return count
    }

    /// Checks that the whole payload was used.
    package func finish() throws(WireError) {
        guard remaining == 0 else { throw failure("\(remaining) unexpected bytes after the end") }
    }
}
