import Posix
/// Every error the engine reports: a code, the child or path involved, and the underlying errno.
/// `description` is one plain sentence.
public struct SupervisorError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case runDirectory, alreadyRunning, controlSocket, notRunning, signals, spawnFailed, protocolError, refused
    }

    public var code: Code
    /// The child name, file or socket path involved.
    public var path: String
    public var detail: String?
    public var underlying: Errno?

    public init(_ code: Code, path: String, detail: String? = nil, _ underlying: Errno? = nil) {
        self.code = code
        self.path = path
        self.detail = detail
        self.underlying = underlying
    }

    public var description: String {
        let cause = underlying.map { ": \($0)" } ?? ""
        let extra = detail.map { " (\($0))" } ?? ""
        switch code {
        case .runDirectory: return "cannot use run directory path \(path)\(cause)" + (detail.map { ": \($0)" } ?? "")
        case .alreadyRunning: return "another cidp supervisor is already running in \(path)\(extra); stop it with 'cidp stop --run-dir \(path)'"
        case .controlSocket: return "cannot serve the control socket \(path)\(cause)"
        case .notRunning: return "no running cidp supervisor at \(path)\(cause)"
        case .signals: return "cannot set up signal handling\(cause)"
        case .spawnFailed: return "cannot start child '\(path)'\(extra)\(cause)"
        case .protocolError: return "bad reply from \(path)\(extra)"
        case .refused: return "\(path): \(detail ?? "refused")"
        }
    }
}
