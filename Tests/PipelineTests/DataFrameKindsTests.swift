import Pipeline
import Testing
import Wire

@Suite struct DataFrameKindsTests {
    @Test func dataKindsHaveTheirWireNumbersAboveTheControlRange() {
        let kinds: [(FrameKind, UInt16, String)] = [
            (.recordBatch, 16, "recordBatch"), (.ack, 17, "ack"), (.resend, 18, "resend"), (.endOfStream, 19, "endOfStream"),
            (.transformedBatch, 20, "transformedBatch"), (.hello, 21, "hello"), (.quarantinedBatch, 22, "quarantinedBatch"),
        ]
        for (kind, number, name) in kinds {
            #expect(kind.rawValue == number)
            #expect(!kind.isControl)
            #expect(kind.name == name)
        }
        #expect(FrameKind.heartbeat.name == "heartbeat")
        #expect(FrameKind(rawValue: 99).name == "kind 99")
    }
}
