#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Unix stream sockets (the control socket) and their peers.
extension Posix {
    /// A Unix stream socket, close-on-exec. C: `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK])`.
    public static func unixStreamSocket(nonblocking: Bool) throws(Errno) -> Int32 {
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonblocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        return try retryingOnInterrupt { socket(AF_UNIX, flags, 0) }
    }

    /// Binds `fd` to the filesystem path `path`. C: `bind(sockaddr_un)`.
    public static func bindUnix(_ fd: Int32, to path: String) throws(Errno) {
        try retryingOnInterrupt { cshims_unix_bind(fd, path) }
    }

    /// Connects `fd` to the socket at `path`. C: `connect(sockaddr_un)`.
    public static func connectUnix(_ fd: Int32, to path: String) throws(Errno) {
        try retryingOnInterrupt { cshims_unix_connect(fd, path) }
    }

    /// Marks `fd` as listening. C: `listen`.
    public static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        try retryingOnInterrupt { Glibc.listen(fd, backlog) }
    }

    /// One connection from a non-blocking listener, close-on-exec and non-blocking, or nil when
    /// none is waiting (`EAGAIN`). `EINTR` and `ECONNABORTED` (a client gone before it was taken)
    /// are retried. C: `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)`.
    public static func accept(_ listener: Int32) throws(Errno) -> Int32? {
        while true {
            let fd = cshims_accept(listener)
            if fd >= 0 { return fd }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw Errno.current
            }
        }
    }

    /// The user and process at the other end of a Unix socket. C: `getsockopt(SO_PEERCRED)`.
    public static func peerCredentials(_ fd: Int32) throws(Errno) -> (uid: uid_t, pid: pid_t) {
        var uid: uid_t = 0
        var pid: pid_t = 0
        try retryingOnInterrupt { cshims_peer_credentials(fd, &uid, &pid) }
        return (uid, pid)
    }

    /// Sets or clears O_NONBLOCK. C: `fcntl(F_SETFL)`.
    public static func setBlocking(_ fd: Int32, _ blocking: Bool) throws(Errno) {
        try setFlag(O_NONBLOCK, !blocking, on: fd)
    }
}
