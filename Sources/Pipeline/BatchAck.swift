import Wire

/// The loader's word that a batch is committed, sent upstream so that the batch can be
/// forgotten by whoever holds it for re-sending (the payload of `FrameKind.ack`).
///
/// Encoding: the batch id, `UInt64` little-endian; nothing else.
public struct BatchAck: Equatable, Hashable, Sendable {
    /// The batch committed.
    public var batchID: UInt64

    /// The acknowledgement of batch `batchID`.
    public init(batchID: UInt64) {
        self.batchID = batchID
    }

    /// The acknowledgement as a frame payload.
    public func encoded() -> [UInt8] {
        var writer = PayloadWriter(capacity: 8)
        writer.write(batchID)
        return writer.bytes
    }

    /// Decodes a payload made by `encoded()`.
    /// - Throws: `WireError.Code.badPayload` if the payload is not exactly 8 bytes.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = PayloadReader(bytes, message: "ack")
        batchID = try reader.read(UInt64.self, "the batch id")
        try reader.finish()
    }

    /// Decodes the acknowledgement an `ack` frame carries.
    /// - Throws: `WireError.Code.badPayload` (with the frame's sequence) for another kind or a bad payload.
    public init(frame: Frame) throws(WireError) {
        guard frame.kind == .ack else {
            throw WireError(.badPayload("\(frame.kind.name) is not an ack"), sequence: frame.sequence)
        }
        do throws(WireError) {
            try self.init(decoding: frame.payload)
        } catch {
            throw WireError(error.code, channel: error.channel, sequence: frame.sequence)
        }
    }
}
