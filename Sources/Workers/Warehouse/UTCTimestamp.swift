import Wire
import CivilCalendar

/// Unix seconds ⇄ `YYYY-MM-DD HH:MM:SS` UTC text, the way pandas' `to_sql` stores datetimes in
/// SQLite, for years 0000…9999. Pure arithmetic (Howard Hinnant's civil-calendar algorithms):
/// no locale, no time zone database, no allocation when writing into a caller's buffer.
public enum UTCTimestamp {
    /// Length of the text: `2024-02-29 13:00:00`.
    static let textLength = 19
    /// 0000-01-01 00:00:00.
    static let earliest: Int64 = -62_167_219_200
    /// 9999-12-31 23:59:59.
    static let latest: Int64 = 253_402_300_799

    /// Whether `seconds` has a four-digit year.
    static func isRepresentable(_ seconds: Int64) -> Bool { (earliest...latest).contains(seconds) }

    /// Writes `seconds` into the first 19 bytes of `buffer`.
    /// - Precondition: `isRepresentable(seconds)` and `buffer.count >= 19`.
    static func write(_ seconds: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>) {
        precondition(isRepresentable(seconds) && buffer.count >= textLength, "timestamp \(seconds) not writable")
        let days = CivilDate.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilDate.date(days: days)
        func put(_ value: Int64, _ digits: Int, at offset: Int) {
            var value = value
            for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                buffer[position] = UInt8(truncatingIfNeeded: 48 + value % 10)
                value /= 10
            }
        }
        put(year, 4, at: 0); buffer[4] = UInt8(ascii: "-")
        put(month, 2, at: 5); buffer[7] = UInt8(ascii: "-")
        put(day, 2, at: 8); buffer[10] = UInt8(ascii: " ")
        put(secondOfDay / 3600, 2, at: 11); buffer[13] = UInt8(ascii: ":")
        put(secondOfDay / 60 % 60, 2, at: 14); buffer[16] = UInt8(ascii: ":")
        put(secondOfDay % 60, 2, at: 17)
    }

    /// `seconds` as text when it has a four-digit year, else `<seconds> s since 1970`: for messages.
    public static func text(_ seconds: Int64) -> String {
        isRepresentable(seconds) ? string(seconds) : "\(seconds) s since 1970"
    }

    /// `seconds` as text.
    static func string(_ seconds: Int64) -> String {
        String(unsafeUninitializedCapacity: textLength) { buffer in
            write(seconds, into: buffer)
            return textLength
        }
    }

    /// Parses exactly `YYYY-MM-DD HH:MM:SS`, checking every field's range (leap days included).
    /// - Returns: Unix seconds, or nil for anything else.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard text.count == textLength else { return nil }
        func number(_ offset: Int, _ digits: Int) -> Int64? {
            var value: Int64 = 0
            for position in offset..<offset + digits {
                let digit = Int64(text[position]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        let (dash, space, colon) = (UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: ":"))
        guard text[4] == dash, text[7] == dash, text[10] == space, text[13] == colon, text[16] == colon,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), hour < 24, minute < 60, second < 60
        else { return nil }
        let days = CivilDate.days(year: year, month: month, day: day)
        // A day past the month's end lands in the next month: reject it by converting back.
        guard day >= 1, CivilDate.date(days: days) == (year, month, day) else { return nil }
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Parses text given as a String.
    static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parse($0) }
    }
}
