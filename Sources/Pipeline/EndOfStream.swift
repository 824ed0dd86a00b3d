import Wire

/// The end of a finite stream (the payload of `FrameKind.endOfStream`): the id of the last
/// batch and how many records the source gave in all.
public struct EndOfStream: Equatable, Sendable {
    public var lastBatchID: UInt64
    public var records: UInt64

    public init(lastBatchID: UInt64, records: UInt64) {
        self.lastBatchID = lastBatchID
        self.records = records
    }

    public func encoded() -> [UInt8] {
        var writer = PayloadWriter(capacity: 16)
        writer.write(lastBatchID)
        writer.write(records)
        return writer.bytes
    }

    /// - Throws: `WireError.Code.badPayload` if the payload is not exactly 16 bytes.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = PayloadReader(bytes, message: "end of stream")
        lastBatchID = try reader.read(UInt64.self, "the last batch id")
        records = try reader.read(UInt64.self, "the record count")
        try reader.finish()
    }
}
