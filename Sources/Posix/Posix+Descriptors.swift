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
    /// Sets or clears one of a descriptor's status flags. C: `fcntl(F_GETFL)`, `fcntl(F_SETFL)`.
    static func setFlag(_ flag: Int32, _ on: Bool, on fd: Int32) throws(Errno) {
        let flags = try retryingOnInterrupt { fcntl(fd, F_GETFL) }
        _ = try retryingOnInterrupt { fcntl(fd, F_SETFL, on ? flags | flag : flags & ~flag) }
    }
}
