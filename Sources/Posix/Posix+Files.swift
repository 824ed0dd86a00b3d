#if canImport(Glibc)
import Glibc
#endif

/// Files by descriptor: open, status, lock, sync.
extension Posix {
    /// Opens `path` with `flags` (`O_CLOEXEC` is the caller's to ask for), creating it with `mode`
    /// when `flags` has `O_CREAT`. C: `open`, retried on `EINTR`.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingOnInterrupt { Glibc.open(path, flags, mode) })
    }

    /// What the kernel knows of an open file: device, inode, type, size. C: `fstat`.
    public static func status(of fd: FileDescriptor) throws(Errno) -> stat {
        var status = stat()
        try retryingOnInterrupt { fstat(fd.rawValue, &status) }
        return status
    }

    /// Takes an exclusive `flock` on an open file: waiting for it, or failing at once with
    /// `EWOULDBLOCK` when another holder has it and `wait` is false. C: `flock(LOCK_EX [| LOCK_NB])`.
    public static func lockExclusively(_ fd: FileDescriptor, wait: Bool) throws(Errno) {
        try retryingOnInterrupt { flock(fd.rawValue, LOCK_EX | (wait ? 0 : LOCK_NB)) }
    }

    /// Flushes a file's (or a directory's) data and metadata to the disk. C: `fsync`.
    public static func synchronize(_ fd: FileDescriptor) throws(Errno) {
        try retryingOnInterrupt { fsync(fd.rawValue) }
    }

    /// Cuts an open file to `length` bytes. C: `ftruncate`.
    public static func truncate(_ fd: FileDescriptor, to length: Int) throws(Errno) {
        try retryingOnInterrupt { ftruncate(fd.rawValue, off_t(length)) }
    }
}
