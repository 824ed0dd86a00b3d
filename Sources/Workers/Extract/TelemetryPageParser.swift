#if canImport(Glibc)
import Glibc
#endif
import Wire

/// The keys a telemetry page may hold: two at the top, seven in each record.
enum TelemetryKey: String, CaseIterable {
    case records, nextCursor = "next_cursor"
    case timestamp, pumpID = "pump_id", flowRate = "flow_rate", pressure, vibration, temperature, failure

    /// The keys of the page object, in the order of `pageBit`.
    static let pageKeys: [TelemetryKey] = [.records, .nextCursor]
    /// The keys of a record, in the order of `recordBit`.
    static let recordKeys: [TelemetryKey] = [.timestamp, .pumpID, .flowRate, .pressure, .vibration, .temperature, .failure]

    /// The key's bit in a mask of keys seen in its object.
    var bit: UInt8 {
        switch self {
        case .records, .timestamp: 1
        case .nextCursor, .pumpID: 2
        case .flowRate: 4
        case .pressure: 8
        case .vibration: 16
        case .temperature: 32
        case .failure: 64
        }
    }

    /// Whether the key belongs in a record (rather than in the page object).
    var isRecordKey: Bool {
        self != .records && self != .nextCursor
    }

    /// The key as it appears in JSON, for comparing raw bytes.
    var name: StaticString {
        switch self {
        case .records: "records"
        case .nextCursor: "next_cursor"
        case .timestamp: "timestamp"
        case .pumpID: "pump_id"
        case .flowRate: "flow_rate"
        case .pressure: "pressure"
        case .vibration: "vibration"
        case .temperature: "temperature"
        case .failure: "failure"
        }
    }

    /// The key whose name is the `length` bytes at `start`, if any: a switch on length and
    /// first byte, then one comparison.
    @inline(__always)
    static func match(_ start: UnsafePointer<UInt8>, length: Int) -> TelemetryKey? {
        let candidate: TelemetryKey?
        switch (length, start[0]) {
        case (7, UInt8(ascii: "r")): candidate = .records
        case (7, UInt8(ascii: "p")): candidate = .pumpID
        case (7, UInt8(ascii: "f")): candidate = .failure
        case (8, UInt8(ascii: "p")): candidate = .pressure
        case (9, UInt8(ascii: "t")): candidate = .timestamp
        case (9, UInt8(ascii: "f")): candidate = .flowRate
        case (9, UInt8(ascii: "v")): candidate = .vibration
        case (11, UInt8(ascii: "t")): candidate = .temperature
        case (11, UInt8(ascii: "n")): candidate = .nextCursor
        default: candidate = nil
        }
        guard let candidate, memcmp(start, candidate.name.utf8Start, length) == 0 else { return nil }
        return candidate
    }
}

/// A single-pass parser of one telemetry page over the body's bytes.
///
/// It knows the page's shape, so it never parses an arbitrary value: every key is checked
/// against the few expected at that point and its value parsed as that key's type. Errors name
/// the byte offset, the record index and the key (`recordIndex`, `key`).
struct TelemetryPageParser {
    let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    var index = 0
    /// The record being parsed, for error messages.
    var recordIndex: Int?
    /// The key whose value is being parsed, for error messages.
    var key: TelemetryKey?

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The byte at `index`, or 0 past the end (0 is invalid everywhere a byte is expected).
    var current: UInt8 {
        @inline(__always) get { index < bytes.count ? bytes[index] : 0 }
    }

    /// `{"records":[…],"next_cursor":…}` followed by nothing but whitespace.
    mutating func parsePage() throws(ExtractError) -> TelemetryPage {
        var records: [TelemetryRecord] = []
        var nextCursor: String?
        var seen: UInt8 = 0
        try parseObject(inRecord: false) { (parser, key) throws(ExtractError) in
            guard seen & key.bit == 0 else { throw parser.repeatedKey(key) }
            seen |= key.bit
            if key == .records {
                records = try parser.parseRecords()
            } else {
                nextCursor = try parser.parseCursor()
            }
        }
        key = nil
        for required in TelemetryKey.pageKeys where seen & required.bit == 0 {
            throw malformed("missing key '\(required.rawValue)'", at: index - 1)
        }
        skipWhitespace()
        guard index == bytes.count else { throw malformed("trailing data after the page object") }
        return TelemetryPage(records: records, nextCursor: nextCursor)
    }

    /// `[` record, … `]`.
    private mutating func parseRecords() throws(ExtractError) -> [TelemetryRecord] {
        try expect(UInt8(ascii: "["), "'[' starting the records")
        var records: [TelemetryRecord] = []
        records.reserveCapacity(bytes.count / 160)
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return records
        }
        while true {
            recordIndex = records.count
            key = nil
            records.append(try parseRecord())
            skipWhitespace()
            let separator = current
            index += 1
            if separator == UInt8(ascii: ",") { continue }
            if separator == UInt8(ascii: "]") { break }
            index -= 1
            key = nil
            throw expected("',' or ']' after a record")
        }
        recordIndex = nil
        key = .records
        return records
    }

    /// One record object, every key present exactly once.
    private mutating func parseRecord() throws(ExtractError) -> TelemetryRecord {
        var timestamp: Int64 = 0
        var pumpID = ""
        var readings: (Double, Double, Double, Double) = (0, 0, 0, 0)
        var failure: UInt8 = 0
        var seen: UInt8 = 0
        try parseObject(inRecord: true) { (parser, key) throws(ExtractError) in
            guard seen & key.bit == 0 else { throw parser.repeatedKey(key) }
            seen |= key.bit
            switch key {
            case .timestamp: timestamp = try parser.parseTimestamp()
            case .pumpID: pumpID = try parser.parseString()
            case .flowRate: readings.0 = try parser.parseReading()
            case .pressure: readings.1 = try parser.parseReading()
            case .vibration: readings.2 = try parser.parseReading()
            case .temperature: readings.3 = try parser.parseReading()
            case .failure: failure = try parser.parseFailure()
            case .records, .nextCursor: preconditionFailure("page key \(key) accepted inside a record")
            }
        }
        if seen != 0x7F {
            let missing = TelemetryKey.recordKeys.first { seen & $0.bit == 0 }!
            key = missing
            throw malformed("missing key '\(missing.rawValue)'", at: index - 1)
        }
        return TelemetryRecord(timestamp: timestamp, pumpID: pumpID, flowRate: readings.0, pressure: readings.1,
                               vibration: readings.2, temperature: readings.3, failure: failure)
    }

    /// `next_cursor`: a non-empty string or `null`. An empty cursor could not be told from "no
    /// cursor" (the first page) once it is the warehouse's resume position.
    private mutating func parseCursor() throws(ExtractError) -> String? {
        if current == UInt8(ascii: "n") {
            try expectNull("a string or null")
            return nil
        }
        let start = index
        let cursor = try parseString()
        guard !cursor.isEmpty else { throw malformed("next_cursor is an empty string; null ends the pages", at: start) }
        return cursor
    }

    /// `{ "key" : value , … }`: calls `value` with each key, positioned at its value.
    ///
    /// A key's raw bytes (no escapes) are matched directly; a key with escapes is decoded
    /// first. A key that is not one of the record's (`inRecord`) or the page's is an error.
    private mutating func parseObject(
        inRecord: Bool,
        value: (inout TelemetryPageParser, TelemetryKey) throws(ExtractError) -> Void
    ) throws(ExtractError) {
        skipWhitespace()
        try expect(UInt8(ascii: "{"), "'{'")
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            key = nil
            let keyStart = index
            let token = try scanString()
            var matched = token.hasEscapes || token.end == token.start ? nil
                : TelemetryKey.match(bytes.baseAddress! + token.start, length: token.end - token.start)
            if matched == nil || matched!.isRecordKey != inRecord {
                let name = try decodeString(token)
                matched = TelemetryKey(rawValue: name).flatMap { $0.isRecordKey == inRecord ? $0 : nil }
                guard matched != nil else { throw malformed("unknown key '\(name.prefix(40))'", at: keyStart) }
            }
            key = matched
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            try value(&self, matched!)
            skipWhitespace()
            let separator = current
            index += 1
            if separator == UInt8(ascii: ",") { continue }
            if separator == UInt8(ascii: "}") { return }
            index -= 1
            key = nil
            throw expected("',' or '}'")
        }
    }

    /// The error for a key seen twice in one object; positioned at the second one's value.
    func repeatedKey(_ key: TelemetryKey) -> ExtractError {
        malformed("repeated key '\(key.rawValue)'")
    }

    // MARK: Bytes

    /// Skips JSON whitespace: space, tab, line feed, carriage return.
    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte`, or throws naming `what` was expected.
    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(ExtractError) {
        guard current == byte else { throw expected(what()) }
        index += 1
    }

    /// Consumes `null`, or throws saying `what` was expected.
    mutating func expectNull(_ what: String) throws(ExtractError) {
        let null: [UInt8] = Array("null".utf8)
        guard bytes.count - index >= 4, bytes[index..<index + 4].elementsEqual(null) else { throw expected(what) }
        index += 4
    }

    /// "expected X, found Y" at `index`, or "body ends early" past the end.
    @inline(never)
    func expected(_ what: String) -> ExtractError {
        guard index < bytes.count else { return malformed("body ends early (truncated?): expected \(what)") }
        let byte = bytes[index]
        let found = (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
        return malformed("expected \(what), found \(found)")
    }

    /// A `.malformedBody` error at `offset` (default: `index`), in the current record and key.
    @inline(never)
    func malformed(_ problem: String, at offset: Int? = nil) -> ExtractError {
        let location = ExtractError.BodyLocation(offset: offset ?? index, record: recordIndex, field: key?.rawValue)
        return ExtractError(.malformedBody(problem, at: location))
    }
}
