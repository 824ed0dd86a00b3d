import Wire

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
