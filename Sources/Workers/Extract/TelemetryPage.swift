import Wire

/// One page of the sensor API's `GET /v1/telemetry`:
/// `{"records":[{"timestamp":"2025-01-01T00:00:00Z","pump_id":"P_001","flow_rate":512.3,
/// "pressure":4.98,"vibration":2.1,"temperature":44.7,"failure":0}, …],"next_cursor":"1000"}`.
public struct TelemetryPage: Equatable, Sendable {
    /// The records, in the order served.
    public var records: [TelemetryRecord]
    /// The cursor of the next page; nil after the last page.
    public var nextCursor: String?

    public init(records: [TelemetryRecord], nextCursor: String?) {
        self.records = records
        self.nextCursor = nextCursor
    }

    /// Decodes a page strictly, without Foundation.
    ///
    /// - The body is one JSON object with exactly the keys `records` and `next_cursor` (a string
    ///   or null), in any order; each record has exactly the seven keys above, in any order.
    ///   An unknown, missing or repeated key is an error, as is anything after the object but
    ///   whitespace.
    /// - `timestamp` is `YYYY-MM-DDTHH:MM:SSZ` (a real UTC date and time), read as Unix seconds.
    /// - A reading (`flow_rate`, `pressure`, `vibration`, `temperature`) is a JSON number,
    ///   converted to the nearest double exactly as `Double(String)` would, or `null`, read as
    ///   NaN (a missing reading: the transformer drops it). A number too large for a double is
    ///   an error.
    /// - `failure` is an integer literal from 0 to 255 (the integrity gate judges values other
    ///   than 0 and 1).
    /// - Strings follow JSON (escapes, `\u` surrogate pairs, valid UTF-8, no raw control
    ///   characters). The parser never recurses, so no nesting can exhaust the stack.
    ///
    /// - Throws: `ExtractError` with code `.malformedBody`, saying what was expected and where:
    ///   the byte offset, and the record index and key when inside a record. Its URL is empty;
    ///   the caller fills it in.
    public static func decode(_ body: [UInt8]) throws(ExtractError) -> TelemetryPage {
        try body.withUnsafeBufferPointer { (bytes) throws(ExtractError) -> TelemetryPage in
            var parser = TelemetryPageParser(bytes)
            return try parser.parsePage()
        }
    }
}
