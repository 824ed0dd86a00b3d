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

/// A batch an integrity gate refused (the payload of `FrameKind.quarantinedBatch`): the raw
/// records as they came in, which gate, what to do about it, and why. The loader stores it in
/// quarantine and advances the checkpoint past it in one transaction, so it is never loaded
/// and never judged twice.
public struct QuarantinedBatch: Equatable, Sendable {
    /// The batch as it came in (id, cursor, every record untouched).
    public var batch: RecordBatch
    /// The transformer's state, unchanged by the refused batch; committed as the checkpoint.
    public var windowState: [UInt8]
    /// The gate that refused it (`record`, `batch`, `poison_pill`, …).
    public var gate: String
    /// `halt` or `quarantine_and_continue`.
    public var action: String
    /// One line for the operator.
    public var reason: String
    /// Crash evidence for a poison pill; empty otherwise.
    public var evidence: String
    /// Records of the batch dropped for a missing value or as exact duplicates.
    public var dropped: Int

    public init(batch: RecordBatch, windowState: [UInt8], gate: String, action: String, reason: String,
                evidence: String = "", dropped: Int = 0) {
        self.batch = batch
        self.windowState = windowState
        self.gate = gate
        self.action = action
        self.reason = reason
        self.evidence = evidence
        self.dropped = dropped
    }

    public func encoded() -> [UInt8] {
        var writer = PayloadWriter(capacity: 256 + windowState.count + reason.utf8.count + evidence.utf8.count
                                   + batch.records.count * 64)
        writer.write(lengthPrefixed: batch.encoded())
        writer.write(lengthPrefixed: windowState)
        writer.write(gate)
        writer.write(action)
        writer.write(reason)
        writer.write(evidence)
        writer.write(UInt32(clamping: dropped))
        return writer.bytes
    }

    /// - Throws: `WireError.Code.badPayload` naming what is wrong.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = PayloadReader(bytes, message: "quarantined batch")
        batch = try RecordBatch(decoding: try reader.readBytes("the record batch"))
        windowState = try reader.readBytes("the window state")
        gate = try reader.readString("the gate")
        action = try reader.readString("the action")
        reason = try reader.readString("the reason")
        evidence = try reader.readString("the evidence")
        dropped = Int(try reader.read(UInt32.self, "the dropped count"))
        try reader.finish()
    }
}
