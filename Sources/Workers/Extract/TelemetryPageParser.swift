#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Wire

/// A single-pass parser of one telemetry page over the body's bytes.
///
/// It knows the page's shape, so it parses each known key's value as that key's type, by the
/// names and timestamp form of the source (`SourceFormat`); the value of any other key is
/// checked to be JSON and skipped (`skipValue`, without recursion). Errors name the byte offset,
/// the record index and the field (`recordIndex`, `key`, or the skipped key).
struct TelemetryPageParser {
    /// The longest `pump_id`, in bytes: a pump id is a few characters (`P_001`), and a batch of
    /// records must fit in a frame (`Frame.maxPayload`) whatever a source sends.
    static let maximumPumpIDLength = 256
    /// The longest `next_cursor`, in bytes: it goes into every batch, the checkpoint and the URL.
    static let maximumCursorLength = 4096

    let bytes: UnsafeBufferPointer<UInt8>
    /// The source's names and timestamp form.
    let format: SourceFormat
    /// Each key's name in the source, by `TelemetryKey.ordinal`, when any differs from the
    /// contract's; nil when none does (the fast match of `TelemetryKey.match` applies).
    private let renamedKeys: [[UInt8]]?
    /// The next byte to read.
    var index = 0
    /// The record being parsed, for error messages.
    var recordIndex: Int?
    /// The key whose value is being parsed, for error messages.
    var key: TelemetryKey?
    /// The name of the unknown key whose value is being skipped, for error messages.
    var skippedKey: StringToken?

    init(_ bytes: UnsafeBufferPointer<UInt8>, format: SourceFormat = .standard) {
        self.bytes = bytes
        self.format = format
        renamedKeys = format.hasStandardNames ? nil : format.names.map { Array($0.utf8) }
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
            throw malformed("missing key \(quoted(required))", at: index - 1)
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

    /// One record object, every known key present exactly once.
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
            case .pumpID: pumpID = try parser.parseString(maximumLength: Self.maximumPumpIDLength)
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
            throw malformed("missing key \(quoted(missing))", at: index - 1)
        }
        return TelemetryRecord(timestamp: timestamp, pumpID: pumpID, flowRate: readings.0, pressure: readings.1,
                               vibration: readings.2, temperature: readings.3, failure: failure)
    }

    /// `next_cursor`: a non-empty string, an integer (its digits are the cursor), or `null`. An
    /// empty cursor could not be told from "no cursor" (the first page) once it is the
    /// warehouse's resume position.
    private mutating func parseCursor() throws(ExtractError) -> String? {
        if current == UInt8(ascii: "n") {
            try expectNull("a string, an integer or null")
            return nil
        }
        let start = index
        if current == UInt8(ascii: "-") || isDigit(current) {
            let value = try parseNumber()
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard value == value.rounded(), !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
                throw malformed("next_cursor is a number but not an integer", at: start)
            }
            return text
        }
        let cursor = try parseString(maximumLength: Self.maximumCursorLength)
        guard !cursor.isEmpty else { throw malformed("next_cursor is an empty string; null ends the pages", at: start) }
        return cursor
    }

    /// `{ "key" : value , … }`: calls `value` with each known key, positioned at its value; the
    /// value of any other key is skipped.
    ///
    /// A key's raw bytes (no escapes) are matched directly; a key with escapes is decoded
    /// first. Only the record's keys (`inRecord`) or the page's are known.
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
            let token = try scanString()
            let matched: TelemetryKey?
            if !token.hasEscapes {
                matched = knownKey(bytes.baseAddress! + token.start, length: token.end - token.start, inRecord: inRecord)
            } else {
                let name = Array(try decodeString(token).utf8)
                matched = name.withUnsafeBufferPointer { knownKey($0.baseAddress, length: $0.count, inRecord: inRecord) }
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            if let matched {
                key = matched
                try value(&self, matched)
            } else {
                // A field the page does not need: checked to be JSON, and passed over.
                skippedKey = token
                try skipValue()
                skippedKey = nil
            }
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

    /// The page's key (or with `inRecord` the record's key) named by the `length` bytes at
    /// `start` in the source's naming, if any.
    @inline(__always)
    private func knownKey(_ start: UnsafePointer<UInt8>?, length: Int, inRecord: Bool) -> TelemetryKey? {
        guard let start, length > 0 else { return nil }
        guard let renamedKeys else {
            guard let key = TelemetryKey.match(start, length: length), key.isRecordKey == inRecord else { return nil }
            return key
        }
        for key in inRecord ? TelemetryKey.recordKeys : TelemetryKey.pageKeys {
            let name = renamedKeys[key.ordinal]
            if name.count == length, memcmp(start, name, length) == 0 { return key }
        }
        return nil
    }

    /// The error for a key seen twice in one object; positioned at the second one's value.
    func repeatedKey(_ key: TelemetryKey) -> ExtractError {
        malformed("repeated key \(quoted(key))")
    }

    /// `'name'` as the source writes it, followed by the contract's name when they differ:
    /// `'ts' (timestamp)`.
    func quoted(_ key: TelemetryKey) -> String {
        let name = format.name(of: key)
        return name == key.rawValue ? "'\(name)'" : "'\(name.prefix(40))' (\(key.rawValue))"
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

    /// Consumes `literal` (`null`, `true`, `false`), or throws saying `what` was expected.
    mutating func expectLiteral(_ literal: StaticString, _ what: String) throws(ExtractError) {
        let length = literal.utf8CodeUnitCount
        guard bytes.count - index >= length, memcmp(bytes.baseAddress! + index, literal.utf8Start, length) == 0 else {
            throw expected(what)
        }
        index += length
    }

    /// Consumes `null`, or throws saying `what` was expected.
    mutating func expectNull(_ what: String) throws(ExtractError) {
        try expectLiteral("null", what)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// "expected X, found Y" at `index`, or "body ends early" past the end.
    @inline(never)
    func expected(_ what: String) -> ExtractError {
        guard index < bytes.count else { return malformed("body ends early (truncated?): expected \(what)") }
        let byte = bytes[index]
        let found = (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
        return malformed("expected \(what), found \(found)")
    }

    /// A `.malformedBody` error at `offset` (default: `index`), in the current record and field:
    /// the known key being parsed (with the source's name for it when renamed), or the unknown
    /// key being skipped.
    @inline(never)
    func malformed(_ problem: String, at offset: Int? = nil) -> ExtractError {
        var location = ExtractError.BodyLocation(offset: offset ?? index, record: recordIndex, field: key?.rawValue)
        if let key {
            let name = format.name(of: key)
            if name != key.rawValue { location.sourceName = String(name.prefix(40)) }
        } else if let skippedKey {
            let raw = UnsafeBufferPointer(rebasing: bytes[skippedKey.start..<skippedKey.end])
            let name = (try? decodeString(skippedKey)) ?? String(decoding: raw, as: UTF8.self)
            location.field = String(name.prefix(40))
        }
        return ExtractError(.malformedBody(problem, at: location))
    }
}
