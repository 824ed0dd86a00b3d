import Wire

/// The batches a stage has sent downstream and not yet seen acknowledged, in order, so that
/// they can be sent again to a restarted downstream (the "bounded buffer" of DESIGN.md
/// "Hand-off across restarts"). Its capacity is the stage's back-pressure: once full, the
/// stage takes no more input until an acknowledgement frees room.
public struct UnackedBatches {
    public struct Entry {
        public var batchID: UInt64
        public var kind: FrameKind
        public var payload: [UInt8]
    }

    public let capacity: Int
    public private(set) var entries: [Entry] = []

    public init(capacity: Int) {
        precondition(capacity > 0, "a window of at least one batch")
        self.capacity = capacity
    }

    public var isFull: Bool { entries.count >= capacity }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(batchID: UInt64, kind: FrameKind, payload: [UInt8]) {
        entries.append(Entry(batchID: batchID, kind: kind, payload: payload))
    }

    /// Acknowledgements are cumulative (batches commit in order): forgets every batch up to `batchID`.
    public mutating func acknowledge(upTo batchID: UInt64) {
        entries.removeAll { $0.batchID <= batchID }
    }

    /// Sends every unacknowledged batch again, in order.
    public func resend(on channel: inout DataChannel) throws(WireError) {
        for entry in entries { try channel.send(entry.kind, entry.payload) }
    }
}
