/// The kind of a frame: which message its payload holds.
///
/// Kinds below 16 are control messages between a worker and its supervisor, named here; 16 and
/// above are data between workers, named by `Pipeline` (the engine never reads them). Unknown
/// kinds decode as frames like any other: the receiver decides.
public struct FrameKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The kind as it travels, little-endian.
    public var rawValue: UInt16

    /// A kind from its number on the wire.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Control: the worker is set up and serving.
    public static let ready = FrameKind(rawValue: 1)
    /// Control: the worker is alive.
    public static let heartbeat = FrameKind(rawValue: 2)
    /// Control: stage and counters.
    public static let progress = FrameKind(rawValue: 3)
    /// Control: healthy, or degraded with a reason.
    public static let health = FrameKind(rawValue: 4)
    /// Control: the worker asks to be stopped (or is told to stop).
    public static let jobDone = FrameKind(rawValue: 5)
    /// Control: the worker's integrity gate stopped its chain, with a reason.
    public static let halted = FrameKind(rawValue: 6)
    /// Control: the item the worker is processing, or empty once idle.
    public static let working = FrameKind(rawValue: 7)

    /// Whether the kind is in the control range (below 16).
    public var isControl: Bool { rawValue < 16 }

    /// The name of a control kind, or the number of any other (`Pipeline` names the data kinds).
    public var description: String {
        switch self {
        case .ready: "ready"
        case .heartbeat: "heartbeat"
        case .progress: "progress"
        case .health: "health"
        case .jobDone: "jobDone"
        case .halted: "halted"
        case .working: "working"
        default: "kind \(rawValue)"
        }
    }
}

/// One message on a channel: kind, sequence number and payload.
///
/// On the wire (little-endian), a 20-byte header then the payload:
///
/// | bytes | field |
/// | --- | --- |
/// | 0–1 | magic `0xC1 0xD9` |
/// | 2–3 | kind, `UInt16` |
/// | 4–11 | sequence, `UInt64` |
/// | 12–15 | payload length, `UInt32`, at most `maxPayload` |
/// | 16–19 | CRC-32C of bytes 0–15 followed by the payload |
public struct Frame: Equatable, Sendable {
    /// Which message the payload holds.
    public var kind: FrameKind
    /// The position of the frame on its channel; consecutive from the writer's first.
    public var sequence: UInt64
    /// The message, encoded.
    public var payload: [UInt8]

    /// The first two bytes of every frame.
    public static let magic: (UInt8, UInt8) = (0xC1, 0xD9)
    /// Bytes before the payload.
    public static let headerSize = 20
    /// The largest payload a frame may carry: 16 MiB.
    public static let maxPayload = 16 * 1024 * 1024

    /// A frame of `kind` numbered `sequence` carrying `payload`.
    public init(kind: FrameKind, sequence: UInt64, payload: [UInt8] = []) {
        self.kind = kind
        self.sequence = sequence
        self.payload = payload
    }

    /// The frame as it travels: header and payload in one buffer.
    public func encoded() -> [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }

    /// Appends the frame as it travels to `buffer`.
    ///
    /// A payload over `maxPayload` is a bug of the caller and traps.
    public func encode(into buffer: inout [UInt8]) {
        Frame.encode(kind: kind, sequence: sequence, payload: payload, into: &buffer)
    }

    /// Appends a frame to `buffer` without building a `Frame` first.
    static func encode(kind: FrameKind, sequence: UInt64, payload: [UInt8], into buffer: inout [UInt8]) {
        precondition(payload.count <= maxPayload, "frame payload of \(payload.count) bytes exceeds \(maxPayload)")
        let start = buffer.count
        buffer.reserveCapacity(start + headerSize + payload.count)
        buffer.append(magic.0)
        buffer.append(magic.1)
        buffer.appendLittleEndian(kind.rawValue)
        buffer.appendLittleEndian(sequence)
        buffer.appendLittleEndian(UInt32(payload.count))
        let crc = buffer.withUnsafeBytes { bytes in
            let headerCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<start + 16]))
            return payload.withUnsafeBytes { CRC32C.checksum($0, continuing: headerCRC) }
        }
        buffer.appendLittleEndian(crc)
        buffer.append(contentsOf: payload)
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in little-endian byte order.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
