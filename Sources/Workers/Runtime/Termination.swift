#if canImport(Glibc)
import Glibc
#endif
import Posix

/// SIGTERM as a flag a worker's loop checks: the supervisor's stop request, honoured between
/// two units of work so that nothing is left half-done.
public enum Termination {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    /// Installs the handler. C: `signal(SIGTERM, …)`.
    public static func install() {
        signal(SIGTERM) { _ in Termination.flag = 1 }
    }

    public static var isRequested: Bool { flag != 0 }
}

/// Exits the worker with a one-line message on stderr (captured by the supervisor).
public func workerFail(_ message: String, code: Int32 = 1) -> Never {
    Posix.writeFully(.standardError, Array((message + "\n").utf8))
    exit(code)
}
