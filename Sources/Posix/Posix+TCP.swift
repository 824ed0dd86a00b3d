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
    public static func listenTCP(host: String, port: UInt16, backlog: Int32 = 16) throws(Errno) -> (fd: Int32, port: UInt16) {
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
            try retryingOnInterrupt { listen(fd, backlog) }
            try retryingOnInterrupt {
                withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            }
            return (fd, UInt16(bigEndian: address.sin_port))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Waits for the next connection on a blocking listener; the connection is close-on-exec
    /// and gives up reading or writing after `timeout`. C: `accept4(SOCK_CLOEXEC)`, `SO_RCVTIMEO`, `SO_SNDTIMEO`.
    /// - Throws: `Errno` (`EBADF`/`EINVAL` once the listener is shut down).
    public static func acceptTCP(_ listener: Int32, timeout: Duration) throws(Errno) -> Int32 {
        let fd = try retryingOnInterrupt { cshims_accept_cloexec(listener) }
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Reads up to `capacity` bytes, blocking (within the socket's timeout). Nil at end of file
    /// or on a timeout or error: the caller drops the connection. C: `read`.
    public static func readSome(_ fd: Int32, capacity: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, capacity) }
            if count > 0 { return Array(buffer[..<count]) }
            if count < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// Writes all of `bytes` to a socket, without SIGPIPE. C: `send(MSG_NOSIGNAL)`.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var failure: Errno?
        bytes.withUnsafeBytes { buffer in
            do throws(Errno) { try sendAll(fd, buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
