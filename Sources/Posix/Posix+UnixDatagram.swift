#if canImport(Glibc)
import Glibc
#endif

extension Posix {
    /// An `AF_UNIX` datagram socket, close-on-exec and non-blocking: a send to a receiver whose
    /// queue is full fails with `EAGAIN` instead of stalling the caller.
    /// C: `socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)`.
    /// - Throws: `Errno`.
    public static func unixDatagramSocket() throws(Errno) -> FileDescriptor {
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        return FileDescriptor(rawValue: try retryingOnInterrupt { socket(AF_UNIX, type, 0) })
    }

    /// Binds `fd` to a Unix socket address: a filesystem path, or `@name` for Linux's abstract
    /// namespace (as systemd writes `NOTIFY_SOCKET`). C: `bind`.
    /// - Throws: `Errno`; `ENAMETOOLONG` when the address does not fit `sun_path`, `EINVAL` when it is empty.
    public static func bindDatagramSocket(_ fd: FileDescriptor, to unixAddress: String) throws(Errno) {
        try withUnixSocketAddress(unixAddress) { (address, length) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.bind(fd.rawValue, address, length) }
        }
    }

    /// Sends `bytes` as one datagram to a Unix socket address (a path, or `@name`), without
    /// raising SIGPIPE. C: `sendto(MSG_NOSIGNAL)`.
    /// - Throws: `Errno`: `ENOENT`/`ECONNREFUSED` when nobody listens there, `EAGAIN` when the
    ///   receiver's queue is full (non-blocking sockets), `ENAMETOOLONG`/`EINVAL` for a bad address.
    public static func sendDatagram(_ fd: FileDescriptor, _ bytes: [UInt8], to unixAddress: String) throws(Errno) {
        try withUnixSocketAddress(unixAddress) { (address, length) throws(Errno) in
            while true {
                let count = bytes.withUnsafeBytes { sendto(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
                if count >= 0 { return }
                if errno == EINTR { continue }
                throw Errno.current
            }
        }
    }

    /// Waits at most `timeout` for a datagram on `fd` and returns it (up to `capacity` bytes);
    /// nil when none came in time. C: `poll`, `recv(MSG_DONTWAIT)`.
    /// - Throws: `Errno`.
    public static func receiveDatagram(_ fd: FileDescriptor, timeout: Duration, capacity: Int = 4096) throws(Errno) -> [UInt8]? {
        let deadline = monotonicNow() + timeout
        var buffer = [UInt8](repeating: 0, count: capacity)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count >= 0 { return Array(buffer[0..<count]) }
            guard errno == EAGAIN || errno == EINTR else { throw Errno.current }
            let remaining = deadline - monotonicNow()
            if remaining <= .zero { return nil }
            var request = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = remaining.components
            let ms = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 1000))
            if poll(&request, 1, ms) == -1 && errno != EINTR { throw Errno.current }
        }
    }

    /// Calls `body` with a `sockaddr_un` for `unixAddress` and its length: a path gets its
    /// terminating NUL; `@name` becomes a leading NUL and `name`, without a terminator, since
    /// every byte of an abstract address up to the length counts.
    private static func withUnixSocketAddress<Result>(
        _ unixAddress: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> Result
    ) throws(Errno) -> Result {
        var bytes = Array(unixAddress.utf8)
        let isAbstract = bytes.first == UInt8(ascii: "@")
        if isAbstract { bytes[0] = 0 }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count > (isAbstract ? 1 : 0), !bytes.dropFirst(isAbstract ? 1 : 0).contains(0) else {
            throw Errno(rawValue: EINVAL)
        }
        guard isAbstract ? bytes.count <= capacity : bytes.count < capacity else { throw Errno(rawValue: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? MemoryLayout<sa_family_t>.size
        let length = socklen_t(pathOffset + bytes.count + (isAbstract ? 0 : 1))
        return try withUnsafePointer(to: &storage) { (pointer) throws(Errno) -> Result in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(Errno) -> Result in
                try body(address, length)
            }
        }
    }
}
