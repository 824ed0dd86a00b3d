import Glibc
import Posix

/// Reads verified frames from a pipe or socket.
///
/// `read()` blocks until a frame (or end of file) arrives; `readAvailable()` reads until the
/// descriptor would block, for an epoll loop over nonblocking descriptors. Both decode with a
/// `FrameDecoder`, so every check of the decoder applies, and both may be mixed.
/// On a `SOCK_SEQPACKET` socket each message is received whole (its size is peeked first),
/// so a message longer than the read buffer is never cut.
public struct FrameReader: Sendable {
    /// What one `readAvailable()` found.
    public enum ReadResult: Equatable, Sendable {
        /// Whole frames received (possibly none); the descriptor would now block.
        case frames([Frame])
        /// Whole frames received (possibly none), then a clean end of file: no more will come.
        case endOfFile([Frame])
    }

    /// The descriptor read from; the reader does not own or close it.
    public let fd: FileDescriptor
    /// The decoder; set its `expectedSequence` or `checksSequence` to change what is accepted.
    public var decoder: FrameDecoder
    /// The channel named in errors.
    public var channel: String { decoder.channel }

    private let isSeqpacket: Bool
    private var chunk: [UInt8]
    private var hasReachedEnd = false
    /// An error met after some frames were read; thrown by the next call, the frames first.
    private var pendingError: WireError?

    private static let chunkSize = 64 * 1024

    /// A reader of frames from `fd`.
    /// - Parameters:
    ///   - fd: an open pipe or socket, blocking for `read()`, nonblocking for `readAvailable()`.
    ///   - channel: named in errors.
    ///   - checksSequence: whether sequences must be strictly consecutive.
    ///   - expectedSequence: the first sequence expected; `nil` to start from the first frame seen.
    public init(fd: FileDescriptor, channel: String, checksSequence: Bool = true, expectedSequence: UInt64? = nil) {
        self.fd = fd
        self.decoder = FrameDecoder(channel: channel, checksSequence: checksSequence, expectedSequence: expectedSequence)
        self.chunk = [UInt8](repeating: 0, count: Self.chunkSize)
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        self.isSeqpacket = getsockopt(fd.rawValue, SOL_SOCKET, SO_TYPE, &type, &length) == 0
            && type == Int32(SOCK_SEQPACKET.rawValue)
    }

    /// The next frame, waiting for it; `nil` at a clean end of file (between frames).
    /// C: `read`/`recv`, retried on `EINTR`; `poll` when a nonblocking descriptor would block.
    /// - Throws: `WireError`: a decoder error (see `FrameDecoder.next()`), `truncated` at end of
    ///   file inside a frame, `closed` on `ECONNRESET`, or `io`.
    public mutating func read() throws(WireError) -> Frame? {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        while true {
            if let frame = try decoder.next() { return frame }
            if hasReachedEnd {
                try decoder.finish()
                return nil
            }
            switch try receive() {
            case .bytes: continue
            case .wouldBlock: try waitUntilReady(fd: fd, events: Int16(POLLIN), channel: channel)
            case .endOfFile: hasReachedEnd = true
            }
        }
    }

    /// Every whole frame that can be read without blocking. Call it when epoll reports the
    /// descriptor readable (it reads until `EAGAIN`, so edge-triggered epoll works too).
    ///
    /// Frames read before an error are returned first; the error is thrown by the next call.
    /// - Throws: as `read()`.
    public mutating func readAvailable() throws(WireError) -> ReadResult {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        var frames: [Frame] = []
        do throws(WireError) {
            while true {
                while let frame = try decoder.next() { frames.append(frame) }
                if hasReachedEnd {
                    try decoder.finish()
                    return .endOfFile(frames)
                }
                switch try receive() {
                case .bytes: continue
                case .wouldBlock: return .frames(frames)
                case .endOfFile: hasReachedEnd = true
                }
            }
        } catch {
            if frames.isEmpty { throw error }
            pendingError = error
            return .frames(frames)
        }
    }

    /// Clears a decoding error and skips to the next frame that checks out (see `FrameDecoder.resynchronise()`).
    public mutating func resynchronise() {
        pendingError = nil
        decoder.resynchronise()
    }

    // MARK: - Receiving

    private enum Received { case bytes, wouldBlock, endOfFile }

    /// Reads once into the decoder.
    private mutating func receive() throws(WireError) -> Received {
        // Take the chunk out of `self` so that the decoder can be fed while it is borrowed.
        var chunk = self.chunk
        self.chunk = []
        defer { self.chunk = chunk }
        while true {
            var capacity = chunk.count
            if isSeqpacket {
                // A message longer than the buffer would be cut and the rest discarded: peek its size.
                let size = chunk.withUnsafeMutableBytes { Glibc.recv(fd.rawValue, $0.baseAddress, 1, Int32(MSG_PEEK | MSG_TRUNC)) }
                if size < 0 {
                    if let received = try handle(errno) { return received }
                    continue
                }
                if size > chunk.count {
                    chunk = [UInt8](repeating: 0, count: min(size, Frame.headerSize + Frame.maxPayload))
                }
                capacity = max(1, min(size, chunk.count))
            }
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, capacity) }
            if count > 0 {
                chunk.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                if chunk.count > Self.chunkSize {
                    // Give back the buffer grown for one large message.
                    chunk = [UInt8](repeating: 0, count: Self.chunkSize)
                }
                return .bytes
            }
            if count == 0 { return .endOfFile }
            if let received = try handle(errno) { return received }
        }
    }

    /// What a failed read means: `nil` to retry (`EINTR`), `wouldBlock`, or a thrown error.
    private func handle(_ error: Int32) throws(WireError) -> Received? {
        switch error {
        case EINTR: return nil
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case ECONNRESET: throw WireError(.closed, channel: channel)
        case EBADF, EFAULT: preconditionFailure("channel '\(channel)': fd \(fd) is not open for reading (errno \(error))")
        default: throw WireError(.io(Errno(rawValue: error)), channel: channel)
        }
    }
}
