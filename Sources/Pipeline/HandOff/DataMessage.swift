import Wire

/// A data frame to send, before the channel numbers it: its kind and payload.
public struct DataMessage: Equatable, Sendable {
    public var kind: FrameKind
    public var payload: [UInt8]

    public init(kind: FrameKind, payload: [UInt8] = []) {
        self.kind = kind
        self.payload = payload
    }

    /// The acknowledgement of every batch up to `batchID` (acknowledgements are cumulative).
    public static func ack(_ batchID: UInt64) -> DataMessage {
        DataMessage(kind: .ack, payload: BatchAck(batchID: batchID).encoded())
    }

    /// A request to send every unacknowledged batch again.
    public static let resend = DataMessage(kind: .resend)

    /// The end of a finite stream.
    public static func end(_ end: EndOfStream) -> DataMessage {
        DataMessage(kind: .endOfStream, payload: end.encoded())
    }
}
