import Glibc
import Posix

/// Why a frame or a message could not be read or written, and on which channel.
///
/// `description` is one line naming the channel and the frame, for example
/// `channel 'extractor→transformer': frame 42: checksum mismatch (expected 0x1A2B3C4D, got 0x00000000)`.
public struct WireError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Code: Equatable, Sendable {
        /// The two bytes where a frame should start are not `0xC1 0xD9`; `found` as read, little-endian.
        case badMagic(found: UInt16)
        /// The CRC-32C over header and payload differs from the one in the header.
        case badChecksum(expected: UInt32, got: UInt32)
        /// The header announces a payload longer than `Frame.maxPayload`.
        case oversized(length: UInt32)
        /// The stream ended with `remaining` bytes of an incomplete frame.
        case truncated(remaining: Int)
        /// A well-formed frame arrived out of order (a gap, a repeat or a reordering).
        case outOfSequence(expected: UInt64, got: UInt64)
        /// The payload does not decode as the message its kind announces; the string says what.
        case badPayload(String)
        /// The peer closed the channel (`EPIPE`, `ECONNRESET`).
        case closed
        /// Any other failure of `read`/`write`/`poll`, with its `errno`.
        case io(Errno)
    }

    /// What went wrong.
    public var code: Code
    /// The channel, as named by its owner (`"extractor→transformer"`); empty when unknown.
    public var channel: String
    /// The sequence number of the frame involved, when there is one.
    public var sequence: UInt64?

    /// An error on `channel`, about the frame numbered `sequence` if any.
    public init(_ code: Code, channel: String = "", sequence: UInt64? = nil) {
        self.code = code
        self.channel = channel
        self.sequence = sequence
    }

    /// One line: channel, frame, what.
    public var description: String {
        var line = ""
        if !channel.isEmpty { line += "channel '\(channel)': " }
        if let sequence { line += "frame \(sequence): " }
        switch code {
        case .badMagic(let found):
            line += "bad magic \(hex(found, digits: 4)) where a frame should start (expected 0xD9C1)"
        case .badChecksum(let expected, let got):
            line += "checksum mismatch (expected \(hex(expected, digits: 8)), got \(hex(got, digits: 8)))"
        case .oversized(let length):
            line += "payload of \(length) bytes exceeds the limit of \(Frame.maxPayload) bytes"
        case .truncated(let remaining):
            line += "stream ended inside a frame (\(remaining) bytes of an incomplete frame)"
        case .outOfSequence(let expected, let got):
            line += "out of sequence (expected frame \(expected), got \(got))"
        case .badPayload(let what):
            line += "bad payload: \(what)"
        case .closed:
            line += "closed by the peer"
        case .io(let errno):
            line += "I/O error: \(errno) (errno \(errno.rawValue))"
        }
        return line
    }

    /// The same error, with the channel and sequence filled in where they were unknown.
    func on(channel: String, sequence: UInt64?) -> WireError {
        WireError(code, channel: self.channel.isEmpty ? channel : self.channel, sequence: self.sequence ?? sequence)
    }
}

/// `0x` and `digits` upper-case hex digits.
private func hex(_ value: some BinaryInteger, digits: Int) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
}
