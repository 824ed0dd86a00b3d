import Wire
import CivilCalendar

/// Why a timestamp's text is not a time the warehouse can hold.
enum TimestampProblem: Error, Equatable {
    /// Not RFC 3339, or not a real date and time (February 30th, hour 24).
    case notRFC3339
    /// Second 60: RFC 3339 allows it, Unix time (and so the warehouse) has no such second.
    case leapSecond
    /// In UTC, before 0000-01-01 00:00:00 or after 9999-12-31 23:59:59: no four-digit year.
    case outOfRange
}

extension TelemetryPageParser {
    // MARK: Timestamps

    /// A record's `timestamp` in the source's form (`SourceFormat.timestampFormat`), as Unix
    /// seconds truncated to the second.
    mutating func parseTimestamp() throws(ExtractError) -> Int64 {
        switch format.timestampFormat {
        case .rfc3339: try parseRFC3339()
        case .epochSeconds: try parseEpoch(unitsPerSecond: 1)
        case .epochMillis: try parseEpoch(unitsPerSecond: 1000)
        }
    }

    /// An RFC 3339 date-time string as Unix seconds (see `unixSeconds(rfc3339:)`).
    private mutating func parseRFC3339() throws(ExtractError) -> Int64 {
        let start = index
        let token = try scanString()
        let decoded = token.hasEscapes ? Array(try decodeString(token).utf8) : nil
        do throws(TimestampProblem) {
            if let decoded {
                return try decoded.withUnsafeBufferPointer { (text) throws(TimestampProblem) in try Self.unixSeconds(rfc3339: text) }
            }
            return try Self.unixSeconds(rfc3339: UnsafeBufferPointer(rebasing: bytes[token.start..<token.end]))
        } catch {
            let text = String(decoding: bytes[token.start..<min(token.end, token.start + 40)], as: UTF8.self)
            let problem = switch error {
            case .notRFC3339: "is not an RFC 3339 date and time (YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or ±HH:MM)"
            case .leapSecond: "is a leap second (:60), which Unix time has no place for"
            case .outOfRange: "lies outside the years 0000–9999 once in UTC"
            }
            throw malformed("timestamp '\(text)' \(problem)", at: start)
        }
    }

    /// Unix seconds of an RFC 3339 `date-time` (RFC 3339 §5.6): `YYYY-MM-DD`, `T` (or `t`, or a
    /// space, as §5.6's note allows), `HH:MM:SS`, an optional fraction of any length (`.` and at
    /// least one digit), then `Z`, `z` or a numeric offset `±HH:MM` (`-00:00` is UTC as well).
    ///
    /// The offset is applied, so the result is UTC; the fraction is dropped: the time is
    /// truncated to its second (the warehouse's grain; `docs/WAREHOUSE.md`). Month, day (leap
    /// years counted), hour < 24, minute < 60 and the offset's hour < 24 and minute < 60 are
    /// checked.
    /// - Throws: `.notRFC3339`, `.leapSecond` (second 60), `.outOfRange` (no four-digit UTC year).
    static func unixSeconds(rfc3339 text: UnsafeBufferPointer<UInt8>) throws(TimestampProblem) -> Int64 {
        // The simulator's form, the hot path, is 20 bytes: YYYY-MM-DDTHH:MM:SSZ.
        guard text.count >= 20, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
              text[13] == UInt8(ascii: ":"), text[16] == UInt8(ascii: ":") else { throw .notRFC3339 }
        let separator = text[10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ") else {
            throw .notRFC3339
        }
        @inline(__always) func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for position in from..<from + count {
                let digit = Int(text[position]) &- Int(UInt8(ascii: "0"))
                guard digit >= 0, digit <= 9 else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), hour < 24, minute < 60, second <= 60 else { throw .notRFC3339 }
        var position = 19
        if text[position] == UInt8(ascii: ".") {
            position += 1
            let digits = position
            while position < text.count, text[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            guard position > digits, position < text.count else { throw .notRFC3339 }
        }
        var offsetSeconds = 0
        switch text[position] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard position + 1 == text.count else { throw .notRFC3339 }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard position + 6 == text.count, text[position + 3] == UInt8(ascii: ":"),
                  let offsetHour = number(position + 1, 2), let offsetMinute = number(position + 4, 2),
                  offsetHour < 24, offsetMinute < 60 else { throw .notRFC3339 }
            offsetSeconds = (offsetHour * 3600 + offsetMinute * 60) * (text[position] == UInt8(ascii: "-") ? -1 : 1)
        default:
            throw .notRFC3339
        }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthLength = switch month {
        case 2: isLeap ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
        guard (1...monthLength).contains(day) else { throw .notRFC3339 }
        guard second < 60 else { throw .leapSecond }
        let days = CivilDate.days(year: Int64(year), month: Int64(month), day: Int64(day))
        // Local time minus its offset east of UTC is UTC.
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        guard UTCTimestamp.isRepresentable(seconds) else { throw .outOfRange }
        return seconds
    }

    /// Unix time in `unitsPerSecond` (1: seconds, 1000: milliseconds): a JSON number or a string
    /// holding one, an integer or a decimal without exponent, truncated to the second (towards
    /// the past, also before 1970).
    private mutating func parseEpoch(unitsPerSecond: Int64) throws(ExtractError) -> Int64 {
        let start = index
        let what = unitsPerSecond == 1 ? "Unix seconds" : "Unix milliseconds"
        let units: Int64
        if current == UInt8(ascii: "\"") {
            units = try parseInsideString(what) { (parser) throws(ExtractError) in try parser.scanEpochUnits(what) }
        } else {
            units = try scanEpochUnits(what)
        }
        let seconds = CivilDate.floorDivide(units, unitsPerSecond)
        guard UTCTimestamp.isRepresentable(seconds) else {
            throw malformed("timestamp \(units) (\(what)) lies outside the years 0000–9999", at: start)
        }
        return seconds
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` as an integer rounded towards minus infinity. At most 18
    /// digits before the point (any time in years 0000–9999, in milliseconds, has 15).
    private mutating func scanEpochUnits(_ what: String) throws(ExtractError) -> Int64 {
        let start = index
        let isNegative = current == UInt8(ascii: "-")
        if isNegative { index += 1 }
        guard isDigit(current) else { throw expected("\(what): an integer or a decimal number") }
        var value: Int64 = 0
        var digits = 0
        if current == UInt8(ascii: "0") {
            index += 1
            guard !isDigit(current) else { throw malformed("\(what) with a leading zero", at: start) }
        } else {
            while isDigit(current) {
                value = value &* 10 &+ Int64(current - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
        }
        guard digits <= 18 else { throw malformed("\(what) with more than 18 digits", at: start) }
        var hasFraction = false
        if current == UInt8(ascii: ".") {
            index += 1
            guard isDigit(current) else { throw expected("a digit after '.'") }
            while isDigit(current) {
                if current != UInt8(ascii: "0") { hasFraction = true }
                index += 1
            }
        }
        guard current | 0x20 != UInt8(ascii: "e") else {
            throw malformed("\(what) with an exponent; expected plain decimal digits", at: start)
        }
        // Dropping the fraction rounds towards zero; before 1970 that is one unit late.
        return isNegative ? -value - (hasFraction ? 1 : 0) : value
    }
}

/// RFC 3339 text as the extractor reads it, for other readers of timestamps (the predictor's
/// requests): one parser, the same forms accepted and refused everywhere.
public enum RFC3339Text {
    /// Unix seconds of `text` (`TelemetryPageParser.unixSeconds(rfc3339:)`: every RFC 3339 form,
    /// the offset applied, the fraction dropped), or nil when it is not one the warehouse can hold.
    public static func unixSeconds(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes in try? TelemetryPageParser.unixSeconds(rfc3339: bytes) }
    }
}
