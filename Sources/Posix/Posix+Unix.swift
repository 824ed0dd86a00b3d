#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Unix stream sockets (the control socket) and their peers.
extension Posix {
    /// A Unix stream socket, close-on-exec. C: `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK])`.
    public static func unixStreamSocket(nonblocking: Bool) throws(Errno) -> FileDescriptor {
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonblocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        return FileDescriptor(rawValue: try retryingOnInterrupt { socket(AF_UNIX, flags, 0) })
    }

    /// Binds `fd` to the filesystem path `path`. C: `bind(sockaddr_un)`.
    public static func bindUnix(_ fd: FileDescriptor, to path: String) throws(Errno) {
        try retryingOnInterrupt { cshims_unix_bind(fd.rawValue, path) }
    }

    /// Connects `fd` to the socket at `path`. C: `connect(sockaddr_un)`.
    public static func connectUnix(_ fd: FileDescriptor, to path: String) throws(Errno) {
        try retryingOnInterrupt { cshims_unix_connect(fd.rawValue, path) }
    }

    /// Marks `fd` as listening. C: `listen`.
    public static func listen(_ fd: FileDescriptor, backlog: Int32) throws(Errno) {
        try retryingOnInterrupt { Glibc.listen(fd.rawValue, backlog) }
    }

    /// One connection from a non-blocking listener, close-on-exec and non-blocking, or nil when
    /// none is waiting (`EAGAIN`). `EINTR` and `ECONNABORTED` (a client gone before it was taken)
    /// are retried. C: `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)`.
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor? {
        while true {
            let fd = cshims_accept(listener.rawValue)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw Errno.current
            }
        }
    }

    /// The user and process at the other end of a Unix socket. C: `getsockopt(SO_PEERCRED)`.
    public static func peerCredentials(_ fd: FileDescriptor) throws(Errno) -> (uid: uid_t, pid: pid_t) {
        var uid: uid_t = 0
        var pid: pid_t = 0
        try retryingOnInterrupt { cshims_peer_credentials(fd.rawValue, &uid, &pid) }
        return (uid, pid)
    }

    /// Asks for `bytes` of socket buffer each way: `SO_SNDBUFFORCE`/`SO_RCVBUFFORCE` when
    /// privileged, else the plain options (capped by the system's `wmem_max`/`rmem_max`).
    /// C: `setsockopt`.
    public static func enlargeSocketBuffers(_ fd: FileDescriptor, to bytes: Int32) {
        var size = bytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        for (forced, plain) in [(SO_SNDBUFFORCE, SO_SNDBUF), (SO_RCVBUFFORCE, SO_RCVBUF)]
        where setsockopt(fd.rawValue, SOL_SOCKET, forced, &size, length) != 0 {
            _ = setsockopt(fd.rawValue, SOL_SOCKET, plain, &size, length)
        }
    }

    /// Sets or clears O_NONBLOCK. C: `fcntl(F_SETFL)`.
    public static func setBlocking(_ fd: FileDescriptor, _ blocking: Bool) throws(Errno) {
        try setFlag(O_NONBLOCK, !blocking, on: fd)
    }
}
