import Logging
import Wire
import LogFormat

/// Turns one output stream of a worker into log entries on the root's logger.
///
/// A line that is a ``LogLine`` (what `WorkerLogHandler` writes) is re-logged at its level with
/// its message and metadata; any other line is logged as it is, at `.info` for stdout and
/// `.warning` for stderr. Either way the entry carries `worker.name`, `worker.pid` and
/// `worker.stream` (overriding any the worker set), plus `worker.label` when the worker's logger
/// had one. Empty lines are dropped.
public struct WorkerOutputForwarder {
    /// Which of the worker's descriptors the bytes come from.
    public enum Stream: String, Sendable {
        case stdout, stderr
    }

    public let worker: String
    public let pid: Int32
    public let stream: Stream
    private let logger: Logger
    private var splitter: LineSplitter
    /// The last line that said something went wrong: a plain line on stderr (what a worker prints
    /// as it fails), or a log entry at error level or above. As `consume` returns it.
    public private(set) var lastError: String?

    /// - Parameters:
    ///   - logger: the root's logger for worker output.
    ///   - worker: the worker's name in the tree, e.g. `loader`.
    ///   - maxLineBytes: longer lines are logged in pieces.
    public init(logger: Logger, worker: String, pid: Int32, stream: Stream, maxLineBytes: Int = 16_384) {
        self.logger = logger
        self.worker = worker
        self.pid = pid
        self.stream = stream
        self.splitter = LineSplitter(maxLineBytes: maxLineBytes)
    }

    /// Logs every line these bytes complete; a partial last line waits for the next call.
    /// - Returns: the lines logged, as text (a `LogLine` as its message and `key=value` metadata).
    @discardableResult
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> [String] {
        splitter.append(bytes).compactMap { forwardNotingErrors($0) }
    }

    /// At end of stream (the pipe reached EOF): logs the unterminated last line, if any.
    /// - Returns: that line as text, as `consume` does.
    @discardableResult
    public mutating func finish() -> String? {
        splitter.finish().flatMap { forwardNotingErrors($0) }
    }

    private mutating func forwardNotingErrors(_ line: String) -> String? {
        guard let (text, isError) = forward(line) else { return nil }
        if isError { lastError = text }
        return text
    }

    /// Logs one line. - Returns: it as text, and whether it reports an error.
    private func forward(_ line: String) -> (text: String, isError: Bool)? {
        guard !line.isEmpty else { return nil }
        if let entry = LogLine.decode(line), let level = Logger.Level(rawValue: entry.level) {
            var metadata = Logger.Metadata(minimumCapacity: entry.metadata.count + 4)
            for (key, value) in entry.metadata {
                metadata[key] = .string(value)
            }
            if let label = entry.label {
                metadata["worker.label"] = .string(label)
            }
            addWorkerKeys(to: &metadata)
            logger.log(level: level, "\(entry.message)", metadata: metadata)
            let text = ([entry.message] + entry.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                .joined(separator: " ")
            return (text, level >= .error)
        } else {
            var metadata = Logger.Metadata(minimumCapacity: 3)
            addWorkerKeys(to: &metadata)
            logger.log(level: stream == .stdout ? .info : .warning, "\(line)", metadata: metadata)
            return (line, stream == .stderr)
        }
    }

    private func addWorkerKeys(to metadata: inout Logger.Metadata) {
        metadata["worker.name"] = .string(worker)
        metadata["worker.pid"] = .stringConvertible(pid)
        metadata["worker.stream"] = .string(stream.rawValue)
    }
}
