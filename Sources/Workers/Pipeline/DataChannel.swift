#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Posix
import Wire

/// One end of a data channel between two workers (fd 4 or 5, a SOCK_SEQPACKET socket the
/// supervisor holds open across restarts).
///
/// Each writer incarnation starts with a `hello` frame at sequence 0; the reader then expects
/// consecutive sequences from that writer. A reader that joins mid-stream (a restarted worker)
/// takes the first sequence it sees as its base. A gap, repeat or reordering within one writer
/// incarnation is a transport error: the channel is not trusted further.
public struct DataChannel {
    public let fd: FileDescriptor
    public let name: String
    private var writer: FrameWriter
    private var reader: FrameReader
    private var expectedSequence: UInt64?

    /// Opens the channel at `fd` (made nonblocking for reading) and announces this incarnation.
    /// - Throws: `WireError` if the hello cannot be sent (no supervisor-held channel at `fd`).
    public init(fd: FileDescriptor, name: String) throws(WireError) {
        self.fd = fd
        self.name = name
        guard Posix.isOpen(fd) else { throw WireError(.closed, channel: name) }
        do throws(Errno) { try Posix.setNonblocking(fd) } catch { throw WireError(.io(error), channel: name) }
        writer = FrameWriter(fd: fd, channel: name)
        reader = FrameReader(fd: fd, channel: name, checksSequence: false)
        try writer.send(kind: .hello, payload: [])
    }

    /// Sends one frame; waits (poll) while the channel is full: back-pressure.
    public mutating func send(_ kind: FrameKind, _ payload: [UInt8] = []) throws(WireError) {
        try writer.send(kind: kind, payload: payload)
    }

    /// Sends `message` as one frame; waits (poll) while the channel is full: back-pressure.
    public mutating func send(_ message: DataMessage) throws(WireError) {
        try writer.send(kind: message.kind, payload: message.payload)
    }

    /// Every frame waiting, in order, without `hello`s.
    /// - Throws: `WireError` for a corrupt frame or a sequence gap, repeat or reordering.
    public mutating func receive() throws(WireError) -> [Frame] {
        let frames: [Frame]
        switch try reader.readAvailable() {
        case .frames(let received), .endOfFile(let received): frames = received
        }
        var result: [Frame] = []
        result.reserveCapacity(frames.count)
        for frame in frames {
            if frame.kind == .hello {
                guard frame.sequence == 0 else {
                    throw WireError(.outOfSequence(expected: 0, got: frame.sequence), channel: name, sequence: frame.sequence)
                }
                expectedSequence = 1
                continue
            }
            if let expected = expectedSequence, frame.sequence != expected {
                throw WireError(.outOfSequence(expected: expected, got: frame.sequence), channel: name, sequence: frame.sequence)
            }
            expectedSequence = frame.sequence + 1
            result.append(frame)
        }
        return result
    }

    /// Waits until one of `channels` has something to read, or `timeout` passes.
    public static func wait(for channels: [FileDescriptor], timeout: Duration) {
        Posix.waitReadable(channels, timeout: timeout)
    }
}
