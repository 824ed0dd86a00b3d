#if canImport(Glibc)
import Glibc
#endif
import Posix
import CShims

/// One client of the control socket, as the server sees it: a request line being read, and
/// whether it waits for the supervisor to exit (`stop`) or for the tree's answer to a request.
struct ControlConnection {
    enum Waiting: Equatable {
        case nothing
        /// Answer with the tree's answer to this operator request (`TreeAction.answer`).
        case answer(ticket: Int)
        /// Keep the connection open; it closes as the supervisor exits.
        case exit
    }

    /// When it connected (monotonic): it must have sent its request by then plus the idle timeout.
    let acceptedAt: Duration
    var received: [UInt8] = []
    var waiting: Waiting = .nothing
    static let maxRequestBytes = 4096

    init(acceptedAt: Duration) {
        self.acceptedAt = acceptedAt
    }

    /// Whether it has not yet sent a whole request: the idle timeout applies.
    var isIdle: Bool { waiting == .nothing }

    /// Creates the listening socket at `path`: mode 0600 from birth (umask around bind), a
    /// stale socket left by a dead supervisor removed first (the caller holds the run lock).
    /// - Throws: `SupervisorError.controlSocket`.
    static func listen(at path: String) throws(SupervisorError) -> Int32 {
        let fd = cshims_unix_socket(1)
        guard fd >= 0 else { throw SupervisorError(.controlSocket, path: path, Errno.current) }
        unlink(path)
        let previous = umask(0o177)
        let bound = cshims_unix_bind(fd, path)
        let bindError = errno
        umask(previous)
        guard bound == 0 else {
            Posix.close(fd)
            throw SupervisorError(.controlSocket, path: path, Errno(rawValue: bindError))
        }
        guard Glibc.listen(fd, 16) == 0 else {
            let error = Errno.current
            Posix.close(fd)
            throw SupervisorError(.controlSocket, path: path, error)
        }
        return fd
    }

    /// Whether a peer may use the socket: the same user as the supervisor, or root.
    /// C: `getsockopt(SO_PEERCRED)`.
    static func peerIsAllowed(_ fd: Int32) -> (allowed: Bool, uid: uid_t, pid: pid_t) {
        var uid: uid_t = 0
        var pid: pid_t = 0
        guard cshims_peer_credentials(fd, &uid, &pid) == 0 else { return (false, uid_t.max, 0) }
        return (uid == geteuid() || uid == 0, uid, pid)
    }

    /// Writes a whole reply, blocking up to a second so a stalled client cannot hold the loop.
    static func reply(_ fd: Int32, _ reply: ControlReply) {
        _ = cshims_set_nonblocking(fd, 0)
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = reply.encodedLine()
        _ = bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try Posix.writeAll(fd, buffer) } }
        _ = cshims_set_nonblocking(fd, 1)
    }
}
