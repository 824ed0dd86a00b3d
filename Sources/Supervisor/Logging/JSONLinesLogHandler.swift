import LogFormat
import Logging
import Wire

/// A swift-log handler that appends each entry to a ``RotatingFile`` as one ``LogLine`` JSON line:
/// timestamp (ISO-8601 UTC, milliseconds), level, label, message and metadata flattened to strings.
///
/// Value semantics as swift-log requires: copies share the file, not their level or metadata.
public struct JSONLinesLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public let label: String
    private let file: RotatingFile
    private let now: @Sendable () -> LogTimestamp

    /// - Parameters:
    ///   - logLevel: the lowest level written; the root uses `.debug`.
    ///   - now: the clock stamping entries; tests pass a fixed one.
    public init(label: String, file: RotatingFile, logLevel: Logger.Level = .debug,
                metadataProvider: Logger.MetadataProvider? = nil,
                now: @escaping @Sendable () -> LogTimestamp = LogTimestamp.now) {
        self.label = label
        self.file = file
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        file.write(line: line(for: event).encoded())
    }

    /// The entry this handler writes for `event` (pure apart from the clock).
    func line(for event: LogEvent) -> LogLine {
        let merged = LogMetadataRendering.merged(base: metadata, provider: metadataProvider,
                                                 explicit: event.metadata, error: event.error)
        return LogLine(timestamp: now().iso8601, level: event.level.rawValue, message: event.message.description,
                       label: label, metadata: LogMetadataRendering.flattened(merged))
    }
}
