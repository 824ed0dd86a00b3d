/// The hand-off of a stage between two others (the transformer): batches in order from
/// upstream (`BatchSequencer`), its own output kept until the downstream acknowledges it
/// (`SentBatches`), acknowledgements passed upstream, the end of the stream passed on once every
/// batch before it is, and a halt once the batch that halts the chain is committed. A pure value:
/// the driver processes the batches it admits and sends what it returns.
public struct Relay: Sendable {
    public private(set) var sequencer: BatchSequencer
    public private(set) var window: SentBatches
    /// The end of the stream as last received from upstream.
    public private(set) var end: EndOfStream?
    /// Whether the end was passed on.
    public private(set) var isEndForwarded = false
    /// The batch whose quarantine halts the chain, and the message, once it is processed.
    public private(set) var halting: (batchID: UInt64, message: String)?

    /// What to send, in order, on the way the message came from, or onwards.
    public struct Sends: Equatable, Sendable {
        public var upstream: [DataMessage] = []
        public var downstream: [DataMessage] = []
        public init(upstream: [DataMessage] = [], downstream: [DataMessage] = []) {
            self.upstream = upstream
            self.downstream = downstream
        }
    }

    /// A relay resuming after the checkpoint's batch `committed`, holding at most `window` batches unacknowledged.
    public init(resumingAfter committed: UInt64, window: Int, poisonPill: PoisonPill? = nil) {
        sequencer = BatchSequencer(stage: .relay, resumingAfter: committed, poisonPill: poisonPill)
        self.window = SentBatches(capacity: window)
    }

    /// The last batch processed.
    public var lastProcessed: UInt64 { sequencer.admitted }
    /// The last batch the downstream committed.
    public var committed: UInt64 { sequencer.committed }
    /// Whether upstream frames are read: not once halting, nor while the window is full.
    public var acceptsInput: Bool { halting == nil && !window.isFull }
    /// Whether the batches read are dropped unread: the chain halts at a batch before them.
    public var isHalting: Bool { halting != nil }

    /// The downstream committed every batch up to `batchID`: forget them, and tell upstream.
    public mutating func acknowledged(_ batchID: UInt64) -> Sends {
        sequencer.acknowledged(through: batchID)
        window.acknowledge(upTo: batchID)
        return Sends(upstream: [.ack(batchID)])
    }

    /// The downstream restarted and asks for everything unacknowledged, and the end if passed on.
    public func resendRequested() -> Sends {
        Sends(downstream: window.resend())
    }

    /// What to do with batch `batchID` from upstream; an already committed one is acknowledged again.
    public mutating func admit(_ batchID: UInt64) -> (BatchSequencer.Admission, Sends) {
        let admission = sequencer.admit(batchID)
        switch admission {
        case .acknowledgeAgain: return (admission, Sends(upstream: [.ack(batchID)]))
        case .requestResend: return (admission, Sends(upstream: [.resend]))
        case .apply, .quarantinePoisonPill, .dropDuplicate, .dropAhead: return (admission, Sends())
        }
    }

    /// The admitted batch `batchID` became `output` (a transformed or a quarantined batch), sent
    /// downstream and kept until acknowledged; `haltMessage` when its quarantine halts the chain.
    public mutating func processed(_ batchID: UInt64, into output: DataMessage, haltMessage: String? = nil) -> Sends {
        sequencer.applied(through: batchID)
        window.sent(batchID, output)
        if let haltMessage { halting = (batchID, haltMessage) }
        return Sends(downstream: [output])
    }

    /// Upstream's end of the stream; it is passed on once every batch before it is processed.
    public mutating func streamEnded(_ end: EndOfStream) {
        self.end = end
        // A newer end after it was passed on is what a later re-send repeats.
        if isEndForwarded { window.sent(end) }
    }

    /// The end of the stream to pass on now: once, when every batch before it is processed and no halt is pending.
    public mutating func endToForward() -> Sends {
        guard halting == nil, let end, !isEndForwarded, lastProcessed >= end.lastBatchID else { return Sends() }
        isEndForwarded = true
        window.sent(end)
        return Sends(downstream: [.end(end)])
    }

    /// The halt to report now: the batch that halts the chain is committed downstream.
    public var haltDue: (batchID: UInt64, message: String)? {
        guard let halting, committed >= halting.batchID else { return nil }
        return halting
    }
}
