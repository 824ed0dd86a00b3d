import Wire

// Data kinds numbered as the pipeline numbers them (PipelineTests checks its own): Wire carries
// any kind from 16 up without knowing its name, so these tests need frames of some data kinds.
extension FrameKind {
    static let recordBatch = FrameKind(rawValue: 16)
    static let ack = FrameKind(rawValue: 17)
    static let resend = FrameKind(rawValue: 18)
    static let endOfStream = FrameKind(rawValue: 19)
}
