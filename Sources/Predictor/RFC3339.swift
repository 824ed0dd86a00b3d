import CivilCalendar
import Workers

/// RFC 3339 date-times (`2024-02-29T13:00:00Z`, `2024-02-29t13:00:00.250+02:00`, a space for the
/// `T` as RFC 3339 §5.6 allows), normalised to Unix seconds UTC. Sub-second digits (any number)
/// are checked and dropped, as the warehouse keeps whole seconds: `13:00:00.999Z` is 13:00:00.
/// A leap second (`:60`) is refused, like any other field out of range.
enum RFC3339 {
    /// Unix seconds, or nil with nothing said: the caller names the field. The extractor's
    /// parser (`RFC3339Text`), so a reading is accepted here exactly when a source may send it.
    static func parse(_ text: String) -> Int64? {
        guard text.utf8.count <= 64 else { return nil }
        return RFC3339Text.unixSeconds(text)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    static func format(_ seconds: Int64) -> String {
        let days = CivilDate.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let date = CivilDate.date(days: days)
        func digits(_ value: Int64, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return "\(digits(date.year, 4))-\(digits(date.month, 2))-\(digits(date.day, 2))T"
            + "\(digits(secondOfDay / 3600, 2)):\(digits(secondOfDay / 60 % 60, 2)):\(digits(secondOfDay % 60, 2))Z"
    }
}
