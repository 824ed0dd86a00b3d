/// How a sensor API writes its pages: the name it gives each field, and how it writes a
/// record's time. The default is the simulator's (and the data contract's) form.
///
/// Set by the extractor's options `--field FIELD=NAME` (repeatable) and
/// `--timestamp-format rfc3339|epoch-seconds|epoch-millis`; see `policies/README.md`.
public struct SourceFormat: Equatable, Sendable {
    /// How a record's `timestamp` is written.
    public enum TimestampFormat: String, CaseIterable, Sendable {
        /// RFC 3339 text: `2001-01-01T00:00:00Z`, `2001-01-01t00:00:00.123456+05:30`, … Any
        /// fraction of a second is dropped (the time truncated to its second), the offset applied.
        case rfc3339
        /// Unix seconds, a JSON number or a string holding one; a decimal fraction is dropped.
        case epochSeconds = "epoch-seconds"
        /// Unix milliseconds, a JSON number or a string holding one; truncated to the second.
        case epochMillis = "epoch-millis"
    }

    /// The name each field has in the source's JSON, by `TelemetryKey`, in `TelemetryKey.allCases`
    /// order.
    private(set) var names: [String]
    /// How `timestamp` is written.
    public var timestampFormat: TimestampFormat

    /// The data contract's names and RFC 3339 timestamps.
    public static let standard = SourceFormat()

    public init(timestampFormat: TimestampFormat = .rfc3339) {
        names = TelemetryKey.allCases.map(\.rawValue)
        self.timestampFormat = timestampFormat
    }

    /// The name `key` has in the source's JSON.
    func name(of key: TelemetryKey) -> String {
        names[key.ordinal]
    }

    /// Whether every field keeps its own name (the parser's fast key match applies).
    var hasStandardNames: Bool {
        names == SourceFormat.standard.names
    }

    /// The format read from the extractor's options: each `FIELD=NAME` of `--field` renames a
    /// field (`records`, `next_cursor`, `timestamp`, `pump_id`, `flow_rate`, `pressure`,
    /// `vibration`, `temperature`, `failure`), at most once each; `timestampFormat` is the value
    /// of `--timestamp-format` if given.
    /// - Throws: a one-line `WorkerUsageError` naming the option and what is wrong: an unknown
    ///   field, an empty name or one with a control character, a field renamed twice, or two fields
    ///   of one object (the page, or a record) under one name.
    public static func parse(fields: [String], timestampFormat: String?) throws(WorkerUsageError) -> SourceFormat {
        var format = SourceFormat()
        if let timestampFormat {
            guard let parsed = TimestampFormat(rawValue: timestampFormat) else {
                throw usage("--timestamp-format expects one of \(TimestampFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(timestampFormat)'")
            }
            format.timestampFormat = parsed
        }
        var renamed: Set<TelemetryKey> = []
        for field in fields {
            guard let equals = field.firstIndex(of: "=") else {
                throw usage("--field expects FIELD=NAME (the name the source gives the field), got '\(field)'")
            }
            let fieldName = String(field[..<equals])
            let name = String(field[field.index(after: equals)...])
            guard let key = TelemetryKey(rawValue: fieldName) else {
                throw usage("--field '\(field)': unknown field '\(fieldName)'; fields: \(TelemetryKey.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw usage("--field '\(field)': the name must be non-empty, without control characters")
            }
            guard renamed.insert(key).inserted else {
                throw usage("--field '\(field)': field '\(fieldName)' is renamed twice")
            }
            format.names[key.ordinal] = name
        }
        for group in [TelemetryKey.pageKeys, TelemetryKey.recordKeys] {
            for (position, key) in group.enumerated() {
                if let other = group[..<position].first(where: { format.name(of: $0) == format.name(of: key) }) {
                    throw usage("--field: fields '\(other.rawValue)' and '\(key.rawValue)' would both be named '\(format.name(of: key))'")
                }
            }
        }
        return format
    }

    private static func usage(_ problem: String) -> WorkerUsageError {
        WorkerUsageError(description: "worker extractor: \(problem)")
    }
}
