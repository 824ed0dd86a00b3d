import Wire

/// The sending side of a hand-off: the batches a stage has sent downstream and not yet seen
/// acknowledged, in order, so that they can be sent again to a restarted downstream (the
/// "bounded buffer" of DESIGN.md, "Hand-off across restarts"), and the end of the stream once
/// sent, which follows every re-send.
///
/// Its capacity is the stage's back-pressure: once full, the stage takes no more input until an
/// acknowledgement frees room. A pure value: the driver sends what it returns.
public struct SentBatches: Sendable {
    public struct Entry: Equatable, Sendable {
        public var batchID: UInt64
        public var message: DataMessage
    }

    public let capacity: Int
    public private(set) var entries: [Entry] = []
    /// The end of the stream, once sent: sent again after every re-send.
    public private(set) var end: EndOfStream?

    public init(capacity: Int) {
        precondition(capacity > 0, "a window of at least one batch")
        self.capacity = capacity
    }

    public var isFull: Bool { entries.count >= capacity }
    public var isEmpty: Bool { entries.isEmpty }

    /// `message`, carrying batch `batchID`, was sent: keep it until acknowledged.
    public mutating func sent(_ batchID: UInt64, _ message: DataMessage) {
        entries.append(Entry(batchID: batchID, message: message))
    }

    /// `end` was sent (or is the end to send again, should a newer one come after it).
    public mutating func sent(_ end: EndOfStream) {
        self.end = end
    }

    /// Acknowledgements are cumulative (batches commit in order): forgets every batch up to `batchID`.
    public mutating func acknowledge(upTo batchID: UInt64) {
        entries.removeAll { $0.batchID <= batchID }
    }

    /// What to send on a downstream's request for a re-send: every unacknowledged batch, in
    /// order, then the end of the stream if it was sent.
    public func resend() -> [DataMessage] {
        entries.map(\.message) + (end.map { [DataMessage.end($0)] } ?? [])
    }
}
