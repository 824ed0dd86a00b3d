import Posix
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LogFormat
import Logging
import Wire

/// The swift-log handler of every worker: each entry becomes one ``LogLine`` JSON line on stderr,
/// which the supervisor reads back (`WorkerOutputForwarder`) so level, message and metadata survive.
///
/// Metadata follows swift-log's rules: the handler's, then its provider's, then the call's, later
/// keys winning; an attached error adds `error.message` and `error.type`. Nested values are
/// flattened to strings: dictionaries to dotted keys, arrays to `[a, b]`.
public struct WorkerLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public let label: String
    private let sink: @Sendable (String) -> Void

    /// A handler writing to stderr, or to another descriptor the worker owns.
    /// - Parameter fd: where lines go; standard error is what the supervisor reads.
    public init(label: String, logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
                fd: FileDescriptor = .standardError) {
        self.init(label: label, logLevel: logLevel, metadataProvider: metadataProvider,
                  sink: { Self.writeLine($0, to: fd) })
    }

    /// A handler handing each encoded line (without newline) to `sink`; for tests.
    public init(label: String, logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
                sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = LogMetadataRendering.merged(base: metadata, provider: metadataProvider,
                                                 explicit: event.metadata, error: event.error)
        let line = LogLine(timestamp: Self.timestamp(), level: event.level.rawValue, message: event.message.description,
                           label: label, metadata: LogMetadataRendering.flattened(merged))
        sink(line.encoded())
    }

    // MARK: - Output

    /// Serialises whole lines from this process's threads: one `write` usually carries a line, but a
    /// partial write (a line longer than the pipe buffer) must finish before another line starts.
    private static let writeLock = NSLock()

    /// Writes `line` and a newline to `fd` in one `write(2)`, retrying `EINTR` and partial writes.
    /// Errors are dropped: a worker whose stderr is gone has no one to tell.
    static func writeLine(_ line: String, to fd: FileDescriptor) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        writeLock.lock()
        defer { writeLock.unlock() }
        Posix.writeFully(fd, bytes)
    }

    /// Now, ISO-8601 UTC with milliseconds.
    static func timestamp() -> String {
        let spec = Posix.realtimeNow()
        return LogLine.formatTimestamp(secondsSinceEpoch: Int64(spec.tv_sec), milliseconds: Int(spec.tv_nsec / 1_000_000))
    }
}
