#if canImport(Glibc)
import Glibc
#endif
import CShims

/// The root's event sources: epoll and signalfd.
extension Posix {
    /// An epoll instance whose events carry a 64-bit token (the root uses the descriptor).
    /// C: `epoll_create1`, `epoll_ctl`, `epoll_wait` (in CShims: Swift imports the packed
    /// `struct epoll_event` with the wrong layout on x86-64).
    public struct Epoll: Sendable {
        public let fd: FileDescriptor

        /// C: `epoll_create1(EPOLL_CLOEXEC)`.
        public init() throws(Errno) {
            fd = FileDescriptor(rawValue: try Posix.retryingOnInterrupt { cshims_epoll_create() })
        }

        /// Watches `watched` for input and hang-up, level-triggered.
        public func add(_ watched: FileDescriptor, token: UInt64) throws(Errno) {
            try Posix.retryingOnInterrupt { cshims_epoll_add(fd.rawValue, watched.rawValue, token) }
        }

        /// Stops watching `watched`; one already closed is not an error.
        public func remove(_ watched: FileDescriptor) {
            _ = cshims_epoll_remove(fd.rawValue, watched.rawValue)
        }

        /// Waits up to `timeoutMilliseconds` (−1: for ever) for up to `capacity` events; a signal
        /// ends the wait with no events. - Returns: each ready token and whether it hung up.
        public func wait(capacity: Int, timeoutMilliseconds: Int32) throws(Errno) -> [(token: UInt64, hangup: Bool)] {
            var tokens = [UInt64](repeating: 0, count: capacity)
            var hangups = [Int32](repeating: 0, count: capacity)
            let count = cshims_epoll_wait(fd.rawValue, &tokens, &hangups, Int32(capacity), timeoutMilliseconds)
            if count < 0 {
                if errno == EINTR { return [] }
                throw Errno.current
            }
            return (0..<Int(count)).map { (tokens[$0], hangups[$0] != 0) }
        }

        /// Closes the instance.
        public func close() { Posix.close(fd) }
    }

    /// Blocks `signals` in the calling thread (and the threads it creates) and returns a
    /// non-blocking, close-on-exec descriptor that reads them. C: `pthread_sigmask`, `signalfd`.
    public static func signalDescriptor(for signals: [Int32]) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingOnInterrupt {
            signals.withUnsafeBufferPointer { cshims_signalfd($0.baseAddress, Int32($0.count)) }
        })
    }

    /// The next pending signal on a signalfd and the pid that sent it, or nil when none is
    /// pending. C: `read(struct signalfd_siginfo)`.
    public static func readSignal(_ fd: FileDescriptor) -> (signal: Int32, sender: pid_t)? {
        var signo: Int32 = 0
        var sender: pid_t = 0
        return cshims_signalfd_read(fd.rawValue, &signo, &sender) == 1 ? (signo, sender) : nil
    }
}
