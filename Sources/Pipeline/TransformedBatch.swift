import Wire

/// What the transformer hands the loader for one batch: the rows with their rolling features,
/// and everything the loader commits with them in the same transaction (the payload of
/// `FrameKind.transformedBatch`).
///
/// Encoding: the `RecordBatch` (length-prefixed), the transformer's window state after this
/// batch (length-prefixed, opaque here), then `UInt32` counts of dropped and rejected records.
public struct TransformedBatch: Equatable, Sendable {
    public var batch: RecordBatch
    /// The transformer's per-pump window state after this batch; committed as the checkpoint,
    /// so that a restarted transformer resumes exactly where the warehouse is.
    public var windowState: [UInt8]
    /// Records dropped for a missing value (like pandas' dropna).
    public var dropped: Int
    /// Records rejected by validation: 0 since the record gate quarantines a batch with any
    /// rejected record whole (a `QuarantinedBatch`); kept so the format stays as it was.
    public var rejected: Int

    public init(batch: RecordBatch, windowState: [UInt8], dropped: Int, rejected: Int) {
        self.batch = batch
        self.windowState = windowState
        self.dropped = dropped
        self.rejected = rejected
    }

    public func encoded() -> [UInt8] {
        var writer = PayloadWriter(capacity: 64 + windowState.count + batch.records.count * 64)
        writer.write(lengthPrefixed: batch.encoded())
        writer.write(lengthPrefixed: windowState)
        writer.write(UInt32(clamping: dropped))
        writer.write(UInt32(clamping: rejected))
        return writer.bytes
    }

    /// - Throws: `WireError.Code.badPayload` naming what is wrong.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = PayloadReader(bytes, message: "transformed batch")
        batch = try RecordBatch(decoding: try reader.readBytes("the record batch"))
        windowState = try reader.readBytes("the window state")
        dropped = Int(try reader.read(UInt32.self, "the dropped count"))
        rejected = Int(try reader.read(UInt32.self, "the rejected count"))
        try reader.finish()
    }
}
