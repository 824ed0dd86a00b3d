import Glibc
import Posix
import Testing

/// Both ends of a pipe or socketpair, closed (if still open) at the end of the test. Made with
/// the C calls themselves, not the `Posix` layer: the framing is tested on what the kernel gives.
final class DescriptorPair {
    private var readEnd: Int32
    private var writeEnd: Int32

    /// The read end (of a socketpair, the first socket).
    var read: FileDescriptor { FileDescriptor(rawValue: readEnd) }
    /// The write end (of a socketpair, the second socket).
    var write: FileDescriptor { FileDescriptor(rawValue: writeEnd) }

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
        readEnd = read
        writeEnd = write
    }

    func closeWrite() {
        close(writeEnd)
        writeEnd = -1
    }

    func closeRead() {
        close(readEnd)
        readEnd = -1
    }

    func makeReadNonblocking() {
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
    }

    func makeWriteNonblocking() {
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
    }

    /// Writes raw bytes, bypassing the framing.
    func writeRaw(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { Glibc.write(writeEnd, $0.baseAddress, $0.count) }
        precondition(written == bytes.count)
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
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
