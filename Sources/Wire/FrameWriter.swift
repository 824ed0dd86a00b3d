import Glibc
import Posix

/// Writes frames to a pipe or socket, numbering them consecutively.
///
/// Each frame is built in one buffer and written whole: on a stream (pipe, `SOCK_STREAM`) the
/// write loop resumes after partial writes and `EINTR`; on a `SOCK_SEQPACKET` socket the one
/// `send` of the buffer goes out as one message or not at all, so boundaries are preserved.
/// A nonblocking descriptor is waited on with `poll` rather than returning half a frame.
/// Sockets are written with `MSG_NOSIGNAL`: a closed peer is `.closed`, not a `SIGPIPE`.
public struct FrameWriter: Sendable {
    /// The descriptor written to; the writer does not own or close it.
    public let fd: FileDescriptor
    /// The channel named in errors.
    public let channel: String
    /// The sequence the next frame will carry; it advances only when a frame was written whole.
    public private(set) var nextSequence: UInt64

    private let isSocket: Bool
    /// The frame being written; kept between sends while small, to spare an allocation per frame.
    private var buffer: [UInt8] = []

    /// A writer of frames to `fd`, numbering them from `firstSequence`.
    /// - Parameters:
    ///   - fd: an open pipe or socket; it is not closed by the writer.
    ///   - channel: named in errors, for example `"extractor→transformer"`.
    ///   - firstSequence: the sequence of the first frame.
    public init(fd: FileDescriptor, channel: String, firstSequence: UInt64 = 0) {
        self.fd = fd
        self.channel = channel
        self.nextSequence = firstSequence
        var status = stat()
        self.isSocket = fstat(fd.rawValue, &status) == 0 && (status.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Writes one frame of `kind` carrying `payload` with the next sequence number.
    /// C: `write` (or `send` with `MSG_NOSIGNAL` on sockets) in a loop, `poll` on `EAGAIN`.
    /// - Returns: the sequence number the frame carried.
    /// - Throws: `WireError` with `oversized` (nothing written), `closed` (`EPIPE`, `ECONNRESET`)
    ///   or `io`. After a failure part of the frame may have been written to a stream.
    @discardableResult
    public mutating func send(kind: FrameKind, payload: [UInt8] = []) throws(WireError) -> UInt64 {
        let sequence = nextSequence
        guard payload.count <= Frame.maxPayload else {
            throw WireError(.oversized(length: UInt32(clamping: payload.count)), channel: channel, sequence: sequence)
        }
        var buffer = self.buffer
        self.buffer = []
        buffer.removeAll(keepingCapacity: true)
        Frame.encode(kind: kind, sequence: sequence, payload: payload, into: &buffer)
        defer {
            // Keep small buffers for reuse; give large ones back.
            if buffer.capacity <= 1 << 20 { self.buffer = buffer }
        }
        // Array.withUnsafeBytes rethrows untyped: carry the typed error out as a value.
        let failure: WireError? = buffer.withUnsafeBytes { bytes in
            do throws(WireError) { try writeAll(bytes, sequence: sequence) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        nextSequence = sequence &+ 1
        return sequence
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, sequence: UInt64) throws(WireError) {
        var offset = 0
        while offset < bytes.count {
            let start = bytes.baseAddress! + offset
            let count = bytes.count - offset
            let written = isSocket ? Glibc.send(fd.rawValue, start, count, Int32(MSG_NOSIGNAL)) : Glibc.write(fd.rawValue, start, count)
            if written > 0 {
                offset += written
                continue
            }
            let error = written == 0 ? EIO : errno
            switch error {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                try waitUntilReady(fd: fd, events: Int16(POLLOUT), channel: channel)
            case EPIPE, ECONNRESET:
                throw WireError(.closed, channel: channel, sequence: sequence)
            case EBADF, EFAULT:
                preconditionFailure("channel '\(channel)': fd \(fd) is not open for writing (errno \(error))")
            default:
                throw WireError(.io(Errno(rawValue: error)), channel: channel, sequence: sequence)
            }
        }
    }
}

/// Blocks until `fd` is ready for `events` (`Posix.waitUntilReady`).
/// - Throws: `WireError.Code.io` if `poll` fails.
func waitUntilReady(fd: FileDescriptor, events: Int16, channel: String) throws(WireError) {
    do throws(Errno) { try Posix.waitUntilReady(fd, for: events) } catch { throw WireError(.io(error), channel: channel) }
}
