/// The hand-off of the last stage (the loader): batches in order (`BatchSequencer`), committed
/// in groups — one transaction for all that wait, but one batch per commit for the first
/// `singleCommitsAfterStart` after a start, so that a batch that crashes the worker is the one
/// named after its restart, not the group it was in — and acknowledged once committed. A pure
/// value: the driver commits the groups it admits and sends what it returns.
public struct Sink: Sendable {
    public private(set) var sequencer: BatchSequencer
    /// Commits since this start.
    public private(set) var commits = 0
    /// The end of the stream as last received.
    public private(set) var end: EndOfStream?
    /// Whether the end of the stream was committed and reported.
    public private(set) var isStreamLoaded = false

    /// Commits after a start that hold one batch each (the transformer's window).
    public static let singleCommitsAfterStart = 8

    /// A sink resuming after the checkpoint's batch `committed`.
    public init(resumingAfter committed: UInt64, poisonPill: PoisonPill? = nil) {
        sequencer = BatchSequencer(stage: .sink, resumingAfter: committed, poisonPill: poisonPill)
    }

    /// The last batch committed.
    public var committed: UInt64 { sequencer.committed }

    /// Whether the group being gathered has room for another batch.
    public var hasRoom: Bool {
        sequencer.pending < (commits < Self.singleCommitsAfterStart ? 1 : UInt64.max)
    }

    /// What to do with batch `batchID`, and what to send upstream for it (an acknowledgement of an
    /// already committed batch, a request for a re-send).
    public mutating func admit(_ batchID: UInt64) -> (BatchSequencer.Admission, [DataMessage]) {
        let admission = sequencer.admit(batchID)
        switch admission {
        case .acknowledgeAgain: return (admission, [.ack(batchID)])
        case .requestResend: return (admission, [.resend])
        case .apply, .quarantinePoisonPill, .dropDuplicate, .dropAhead: return (admission, [])
        }
    }

    /// The group up to `last` is committed: acknowledge it (cumulatively) upstream.
    public mutating func committed(through last: UInt64) -> [DataMessage] {
        sequencer.applied(through: last)
        commits += 1
        return [.ack(last)]
    }

    /// Upstream's end of the stream.
    public mutating func streamEnded(_ end: EndOfStream) {
        self.end = end
    }

    /// The end of the stream, the first time everything up to it is committed; nil otherwise.
    public mutating func streamLoadedNow() -> EndOfStream? {
        guard let end, !isStreamLoaded, committed >= end.lastBatchID else { return nil }
        isStreamLoaded = true
        return end
    }
}
