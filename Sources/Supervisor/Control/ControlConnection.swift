#if canImport(Glibc)
import Glibc
#endif
import Posix

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
    static func listen(at path: String) throws(SupervisorError) -> FileDescriptor {
        let fd: FileDescriptor
        do throws(Errno) { fd = try Posix.unixStreamSocket(nonblocking: true) } catch {
            throw SupervisorError(.controlSocket, path: path, error)
        }
        unlink(path)
        do throws(Errno) {
            let previous = umask(0o177)
            defer { umask(previous) }
            try Posix.bindUnix(fd, to: path)
            try Posix.listen(fd, backlog: 16)
        } catch {
            Posix.close(fd)
            throw SupervisorError(.controlSocket, path: path, error)
        }
        return fd
    }

    /// Whether a peer may use the socket: the same user as the supervisor, or root.
    /// C: `getsockopt(SO_PEERCRED)`.
    static func peerIsAllowed(_ fd: FileDescriptor) -> (allowed: Bool, uid: uid_t, pid: pid_t) {
        guard let (uid, pid) = try? Posix.peerCredentials(fd) else { return (false, uid_t.max, 0) }
        return (uid == geteuid() || uid == 0, uid, pid)
    }

    /// Writes a whole reply, blocking up to a second so a stalled client cannot hold the loop.
    static func reply(_ fd: FileDescriptor, _ reply: ControlReply) {
        try? Posix.setBlocking(fd, true)
        Posix.setTimeouts(fd, send: .seconds(1))
        Posix.writeFully(fd, reply.encodedLine())
        try? Posix.setBlocking(fd, false)
    }
}
