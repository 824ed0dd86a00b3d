import Posix
#if canImport(Glibc)
import Glibc
#endif

/// How a worker process ended, as `waitpid` reported it.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible, Codable {
    case exited(code: Int32)
    case signaled(signal: Int32, coreDumped: Bool)

    /// Decodes a raw `waitpid` status (`Posix.decodeWaitStatus`).
    public init(waitStatus status: Int32) {
        let decoded = Posix.decodeWaitStatus(status)
        if let code = decoded.exitCode {
            self = .exited(code: code)
        } else {
            self = .signaled(signal: decoded.signal, coreDumped: decoded.coreDumped)
        }
    }

    /// Exit code 0: OTP's `normal`.
    public var isNormal: Bool { self == .exited(code: 0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let signal, let core): return "signal \(Self.signalName(signal))\(core ? " (core dumped)" : "")"
        }
    }

    /// `SIGKILL`-style name of a signal number, or its number.
    public static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGSEGV: return "SIGSEGV"
        case SIGPIPE: return "SIGPIPE"
        case SIGTERM: return "SIGTERM"
        default: return "\(signal)"
        }
    }
}
