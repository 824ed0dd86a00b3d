#if canImport(Glibc)
import Glibc
#endif
import CShims

extension Posix {
    /// A listening TCP socket on `host:port` (IPv4), close-on-exec and blocking; port 0 takes any
    /// free port. Nothing is created on disk, so a refusal leaves nothing to undo.
    /// C: `socket`, `setsockopt(SO_REUSEADDR)`, `bind`, `listen`, `getsockname`.
    /// - Returns: the descriptor and the port it is bound to.
    /// - Throws: `Errno`: `EADDRINUSE` when the port is taken, `EADDRNOTAVAIL` for an address
    ///   this machine does not have.
    public static func listenTCP(host: String, port: UInt16, backlog: Int32 = 16) throws(Errno) -> (fd: FileDescriptor, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        do throws(Errno) {
            // SO_REUSEADDR lets a restarted root bind while the last one's connections sit in
            // TIME_WAIT; it does not let two listeners share a port on Linux.
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Errno(rawValue: EINVAL) }
            address.sin_port = port.bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            try retryingOnInterrupt {
                withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            }
            try retryingOnInterrupt { Glibc.listen(fd, backlog) }
            try retryingOnInterrupt {
                withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            }
            return (FileDescriptor(rawValue: fd), UInt16(bigEndian: address.sin_port))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// A blocking TCP connection to `host:port` (IPv4), close-on-exec. C: `socket`, `connect`.
    /// - Throws: `Errno`: `ECONNREFUSED` when nothing listens there, `EINVAL` for a host that is
    ///   not an IPv4 address.
    public static func connectTCP(host: String, port: UInt16) throws(Errno) -> FileDescriptor {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Errno(rawValue: EINVAL) }
        address.sin_port = port.bigEndian
        let fd = FileDescriptor(rawValue: try retryingOnInterrupt {
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd.rawValue, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = Errno.current
            close(fd)
            throw error
        }
        return fd
    }

    /// Waits for the next connection on a blocking listener; the connection is close-on-exec
    /// and gives up reading or writing after `timeout`. C: `accept4(SOCK_CLOEXEC)`, `SO_RCVTIMEO`, `SO_SNDTIMEO`.
    /// - Throws: `Errno` (`EBADF`/`EINVAL` once the listener is shut down).
    public static func acceptTCP(_ listener: FileDescriptor, timeout: Duration) throws(Errno) -> FileDescriptor {
        let fd = FileDescriptor(rawValue: try retryingOnInterrupt { cshims_accept_cloexec(listener.rawValue) })
        setTimeouts(fd, send: timeout, receive: timeout)
        return fd
    }

    /// Makes blocking sends and receives on a socket give up after the given time (`EAGAIN`);
    /// nil leaves that direction as it is. C: `setsockopt(SO_SNDTIMEO, SO_RCVTIMEO)`.
    public static func setTimeouts(_ fd: FileDescriptor, send: Duration? = nil, receive: Duration? = nil) {
        for (option, timeout) in [(SO_SNDTIMEO, send), (SO_RCVTIMEO, receive)] {
            guard let timeout else { continue }
            let (seconds, attoseconds) = timeout.components
            var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            _ = setsockopt(fd.rawValue, SOL_SOCKET, option, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// Reads up to `capacity` bytes, blocking (within the socket's timeout). Nil at end of file
    /// or on a timeout or error: the caller drops the connection. C: `read`.
    public static func readSome(_ fd: FileDescriptor, capacity: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress, capacity) }
            if count > 0 { return Array(buffer[..<count]) }
            if count < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// Writes all of `bytes` to a socket, without SIGPIPE. C: `send(MSG_NOSIGNAL)`.
    public static func sendAll(_ fd: FileDescriptor, _ bytes: [UInt8]) throws(Errno) {
        var failure: Errno?
        bytes.withUnsafeBytes { buffer in
            do throws(Errno) { try sendAll(fd, buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
