import Pipeline
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

    /// Decodes a page exactly, without Foundation, in the source's `format` (field names and
    /// timestamp form; the data contract's by default).
    ///
    /// - The body is one JSON object holding `records` (an array) and `next_cursor` (a non-empty
    ///   string, an integer, or null), in any order; each record holds the seven keys above, in
    ///   any order. Other keys, at either level, are checked to be JSON (nested at most
    ///   `TelemetryPageParser.maximumSkippedDepth` deep) and skipped. A missing or repeated key
    ///   is an error, as is anything after the object but whitespace.
    /// - `timestamp`: with `.rfc3339`, an RFC 3339 date-time (`2001-01-01T00:00:00Z`,
    ///   `2001-01-01T00:00:00.123456+05:30`, a fraction of any length, `Z`, `z` or `±HH:MM`);
    ///   with `.epochSeconds`/`.epochMillis`, Unix time as a number or a string holding one. It
    ///   is read as Unix seconds in UTC, **truncated to the second** (a fraction is dropped, also
    ///   before 1970: towards the past), within the years 0000–9999.
    /// - A reading (`flow_rate`, `pressure`, `vibration`, `temperature`) is a JSON number or a
    ///   string holding one (`"512.3"`), converted to the nearest double exactly as
    ///   `Double(String)` would, or `null`, read as NaN (a missing reading: the transformer
    ///   drops it). A number too large for a double is an error.
    /// - `failure` is an integer from 0 to 255, as a number or a string, or `true`/`false` (1/0);
    ///   the integrity gate judges values other than 0 and 1.
    /// - Strings follow JSON (escapes, `\u` surrogate pairs, valid UTF-8, no raw control
    ///   characters). The parser never recurses, so no nesting can exhaust the stack.
    ///
    /// - Throws: `ExtractError` with code `.malformedBody`, saying what was expected and where:
    ///   the byte offset, and the record index and field (with the source's name for it when
    ///   renamed) when inside a record. Its URL is empty; the caller fills it in.
    public static func decode(_ body: [UInt8], format: SourceFormat = .standard) throws(ExtractError) -> TelemetryPage {
        try body.withUnsafeBufferPointer { (bytes) throws(ExtractError) -> TelemetryPage in
            var parser = TelemetryPageParser(bytes, format: format)
            return try parser.parsePage()
        }
    }
}
