import Glibc
import Testing

/// Both ends of a pipe or socketpair, closed (if still open) at the end of the test.
final class DescriptorPair {
    var read: Int32
    var write: Int32

    /// A pipe: `read` is its read end.
    static func pipe() throws -> DescriptorPair {
        var fds: [Int32] = [-1, -1]
        try #require(Glibc.pipe(&fds) == 0)
        return DescriptorPair(read: fds[0], write: fds[1])
    }

    /// A Unix socketpair of `type` (`SOCK_STREAM`, `SOCK_SEQPACKET`).
    static func socketPair(_ type: __socket_type) throws -> DescriptorPair {
        var fds: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(type.rawValue), 0, &fds) == 0)
        return DescriptorPair(read: fds[0], write: fds[1])
    }

    private init(read: Int32, write: Int32) {
        self.read = read
        self.write = write
    }

    func closeWrite() {
        close(write)
        write = -1
    }

    func closeRead() {
        close(read)
        read = -1
    }

    func makeReadNonblocking() {
        _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
    }

    /// Writes raw bytes, bypassing the framing.
    func writeRaw(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { Glibc.write(write, $0.baseAddress, $0.count) }
        precondition(written == bytes.count)
    }

    deinit {
        if read >= 0 { close(read) }
        if write >= 0 { close(write) }
    }
}

/// A body run on its own thread (tests must not block the concurrency pool).
final class TestThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { context in
            let this = Unmanaged<TestThread>.fromOpaque(context!).takeRetainedValue()
            this.body()
            return nil
        }, context)
        precondition(result == 0)
    }

    func join() {
        pthread_join(thread, nil)
    }
}
