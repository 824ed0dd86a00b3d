import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Why the root's logging could not be set up: what failed, on which path or value, and the `errno`.
///
/// Only setup throws; once running, a failing log file is reported once on stderr and skipped.
public struct LoggingError: Error, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case cannotCreateDirectory
        case cannotOpenFile
        case unknownLevel
    }

    public var code: Code
    /// The directory, the file, or the unknown level name.
    public var subject: String
    /// The `errno` of the failing call, when there was one.
    public var errno: Errno?

    public init(code: Code, subject: String, errno: Errno? = nil) {
        self.code = code
        self.subject = subject
        self.errno = errno
    }

    /// One plain sentence, e.g. `Cannot open log file 'logs/cidp.log': Permission denied`.
    public var description: String {
        let cause = errno.map { ": \($0)" } ?? ""
        switch code {
        case .cannotCreateDirectory: return "Cannot create log directory '\(subject)'\(cause)"
        case .cannotOpenFile: return "Cannot open log file '\(subject)'\(cause)"
        case .unknownLevel:
            return "Unknown log level '\(subject)' (expected trace, debug, info, notice, warning, error or critical)"
        }
    }
}
