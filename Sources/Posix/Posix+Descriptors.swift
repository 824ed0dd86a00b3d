#if canImport(Glibc)
import Glibc
#endif

/// The process's descriptor limit and count: what the root reserves for its workers.
extension Posix {
    /// The soft and hard limits on open descriptors (`RLIM_INFINITY` as `UInt64.max`).
    /// C: `getrlimit(RLIMIT_NOFILE)`.
    public static func descriptorLimit() throws(Errno) -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { throw Errno.current }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Raises (or lowers) the soft limit on open descriptors, the hard one unchanged. Workers
    /// spawned afterwards inherit it. C: `setrlimit(RLIMIT_NOFILE)`.
    public static func setDescriptorSoftLimit(_ soft: UInt64) throws(Errno) {
        let (_, hard) = try descriptorLimit()
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { throw Errno.current }
    }

    /// How many descriptors this process has open (the entries of `/proc/self/fd`, less the one
    /// reading them). C: `opendir`, `readdir`.
    public static func openDescriptorCount() throws(Errno) -> Int {
        guard let directory = opendir("/proc/self/fd") else { throw Errno.current }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in name.first == UInt8(ascii: ".") }
            if !isDot { count += 1 }
        }
        return count - 1
    }
}

/// A descriptor's status flags (`O_NONBLOCK`), for `setBlocking`, `setNonblocking` and `pipe`.
extension Posix {
    /// Whether `fd` is open in this process (a worker asks whether its supervisor gave it a
    /// channel there). C: `fcntl(F_GETFD)`.
    public static func isOpen(_ fd: FileDescriptor) -> Bool {
        fcntl(fd.rawValue, F_GETFD) != -1
    }

    /// Sets or clears `FD_CLOEXEC`: whether `fd` closes when this process executes another
    /// program (cleared for what the root hands to its re-executed self). A closed `fd` is
    /// left alone. C: `fcntl(F_GETFD)`, `fcntl(F_SETFD)`.
    public static func setCloseOnExec(_ fd: FileDescriptor, _ on: Bool) {
        let flags = fcntl(fd.rawValue, F_GETFD)
        guard flags >= 0 else { return }
        _ = fcntl(fd.rawValue, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC)
    }

    /// Sets or clears one of a descriptor's status flags. C: `fcntl(F_GETFL)`, `fcntl(F_SETFL)`.
    static func setFlag(_ flag: Int32, _ on: Bool, on fd: FileDescriptor) throws(Errno) {
        let flags = try retryingOnInterrupt { fcntl(fd.rawValue, F_GETFL) }
        _ = try retryingOnInterrupt { fcntl(fd.rawValue, F_SETFL, on ? flags | flag : flags & ~flag) }
    }
}

/// Waiting for a descriptor to become ready.
extension Posix {
    /// Blocks until `fd` is ready for `events` (`POLLIN`, `POLLOUT`) or has hung up; retried on
    /// `EINTR`. C: `poll`.
    public static func waitUntilReady(_ fd: FileDescriptor, for events: Int16) throws(Errno) {
        var request = pollfd(fd: fd.rawValue, events: events, revents: 0)
        while poll(&request, 1, -1) < 0 {
            guard errno == EINTR else { throw Errno.current }
        }
    }

    /// Waits until one of `fds` has something to read (or has hung up), or `timeout` passes; a
    /// signal ends the wait early, as the timeout does, so callers loop on their own condition.
    /// C: `poll(POLLIN)`.
    /// - Returns: whether one of them is ready.
    @discardableResult
    public static func waitReadable(_ fds: [FileDescriptor], timeout: Duration) -> Bool {
        var requests = fds.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
        return poll(&requests, nfds_t(requests.count), Int32(clamping: max(0, timeout.milliseconds))) > 0
    }
}
