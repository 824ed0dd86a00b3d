/// The receiving side of a hand-off: admits batches strictly in order, whatever the channel
/// brings — duplicates, re-sends, batches a killed predecessor took, a downstream that restarted
/// — and says what to do with each. A pure value: no channel, no clock; the driver performs its
/// decisions.
///
/// A batch already applied is never applied again: acknowledged again if it is committed (its
/// sender may have lost the acknowledgement with a restart), dropped otherwise. A batch past the
/// next one (a gap: the batches before it went to a killed predecessor) asks once for a re-send,
/// which comes in order; the request is re-armed once the stage has applied more. The next batch
/// is applied — or, if the supervisor named it this worker's poison pill, quarantined with the
/// crash evidence instead.
///
/// A (re)start is a new sequencer resuming after the warehouse's checkpoint, which first asks for
/// a re-send (`startRequest`): the sender's unacknowledged batches come again, the committed ones
/// are acknowledged again, and nothing is applied twice or skipped.
public struct BatchSequencer: Equatable, Sendable {
    /// Where the stage's batches become durable.
    public enum Stage: Equatable, Sendable {
        /// A stage that passes batches on (the transformer): a batch is committed once the
        /// downstream acknowledges it.
        case relay
        /// The last stage (the loader): applying a batch is committing it.
        case sink
    }

    /// What to do with one incoming batch.
    public enum Admission: Equatable, Sendable {
        /// The next batch: apply it.
        case apply
        /// The next batch, and this worker's poison pill: quarantine it with `evidence` instead.
        case quarantinePoisonPill(evidence: String)
        /// Applied and committed before: acknowledge it again, apply nothing.
        case acknowledgeAgain
        /// Applied, not yet committed: drop it.
        case dropDuplicate
        /// Past the next batch: ask the sender to send its unacknowledged batches again.
        case requestResend
        /// Past the next batch, a re-send already asked for: drop it.
        case dropAhead
    }

    /// The message a receiver sends upstream as it starts: send again what is unacknowledged.
    public static let startRequest = DataMessage.resend

    public let stage: Stage
    /// The last batch committed (the checkpoint, then acknowledgements or commits).
    public private(set) var committed: UInt64
    /// The last batch admitted in order (applied, or in the group being committed).
    public private(set) var admitted: UInt64
    /// Whether a re-send was asked for and nothing applied since.
    public private(set) var isAwaitingResend = false
    /// The batch the supervisor named this worker's poison pill, and why.
    public let poisonPill: PoisonPill?

    /// A sequencer resuming after batch `committed` (the checkpoint's; 0 for an empty warehouse).
    public init(stage: Stage, resumingAfter committed: UInt64, poisonPill: PoisonPill? = nil) {
        self.stage = stage
        self.committed = committed
        self.admitted = committed
        self.poisonPill = poisonPill
    }

    /// The batch applied next.
    public var next: UInt64 { admitted + 1 }

    /// Batches admitted and not yet committed.
    public var pending: UInt64 { admitted > committed ? admitted - committed : 0 }

    /// Decides on batch `batchID` as it arrives; the next one is admitted.
    public mutating func admit(_ batchID: UInt64) -> Admission {
        if batchID <= admitted { return batchID <= committed ? .acknowledgeAgain : .dropDuplicate }
        guard batchID == next else {
            if isAwaitingResend { return .dropAhead }
            isAwaitingResend = true
            return .requestResend
        }
        admitted = batchID
        if let pill = poisonPill, pill.batchID == batchID { return .quarantinePoisonPill(evidence: pill.evidence) }
        return .apply
    }

    /// Every batch admitted up to `batchID` is applied (processed and sent on, or committed):
    /// a gap from now on asks for a re-send again. For a sink, they are committed.
    public mutating func applied(through batchID: UInt64) {
        precondition(batchID <= admitted, "batch \(batchID) applied but only \(admitted) admitted")
        isAwaitingResend = false
        if stage == .sink { committed = max(committed, batchID) }
    }

    /// The downstream acknowledged every batch up to `batchID` (a relay's batches are committed
    /// there). Acknowledgements are cumulative; an old one changes nothing.
    public mutating func acknowledged(through batchID: UInt64) {
        precondition(stage == .relay, "a sink commits its batches itself; acknowledgement of \(batchID) from downstream")
        committed = max(committed, batchID)
    }
}
