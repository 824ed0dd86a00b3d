import Wire

/// The data kinds, 16 and above: what travels between the pipeline's workers. `Wire` carries
/// them like any frame and names only the control kinds; these are the pipeline's vocabulary.
extension FrameKind {
    /// A `RecordBatch`, extractor to transformer.
    public static let recordBatch = FrameKind(rawValue: 16)
    /// A `BatchAck`, sent upstream once a batch is safe.
    public static let ack = FrameKind(rawValue: 17)
    /// A request to re-send the unacknowledged batches.
    public static let resend = FrameKind(rawValue: 18)
    /// No more batches will follow (an `EndOfStream`).
    public static let endOfStream = FrameKind(rawValue: 19)
    /// A `TransformedBatch`, the transformer's output for the loader.
    public static let transformedBatch = FrameKind(rawValue: 20)
    /// The first frame of each writer incarnation (sequence 0), so that its reader knows the
    /// sequence numbers start over.
    public static let hello = FrameKind(rawValue: 21)
    /// A `QuarantinedBatch`, a batch an integrity gate kept out of the fact table.
    public static let quarantinedBatch = FrameKind(rawValue: 22)

    /// The name of a data or control kind, or its number (`kind 99`).
    public var name: String {
        switch self {
        case .recordBatch: "recordBatch"
        case .ack: "ack"
        case .resend: "resend"
        case .endOfStream: "endOfStream"
        case .transformedBatch: "transformedBatch"
        case .hello: "hello"
        case .quarantinedBatch: "quarantinedBatch"
        default: description
        }
    }
}
