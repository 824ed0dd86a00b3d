import Pipeline
import Testing
import Wire

@Suite struct SentBatchesTests {
    static func batch(_ id: UInt64) -> DataMessage {
        DataMessage(kind: .recordBatch, payload: RecordBatch(batchID: id, cursor: "\(id)", records: []).encoded())
    }

    @Test func holdsBatchesUntilAcknowledgedCumulatively() {
        var sent = SentBatches(capacity: 3)
        #expect(sent.isEmpty && !sent.isFull)
        for id: UInt64 in 1...3 { sent.sent(id, Self.batch(id)) }
        #expect(sent.isFull)
        sent.acknowledge(upTo: 2)
        #expect(sent.entries.map(\.batchID) == [3])
        #expect(!sent.isFull)
        sent.acknowledge(upTo: 1)  // an old acknowledgement changes nothing
        #expect(sent.entries.map(\.batchID) == [3])
        sent.acknowledge(upTo: 9)
        #expect(sent.isEmpty)
    }

    @Test func aResendRepeatsTheUnacknowledgedInOrderThenTheEndOnceSent() {
        var sent = SentBatches(capacity: 8)
        #expect(sent.resend().isEmpty)
        for id: UInt64 in 4...6 { sent.sent(id, Self.batch(id)) }
        #expect(sent.resend() == [Self.batch(4), Self.batch(5), Self.batch(6)])
        let end = EndOfStream(lastBatchID: 6, records: 60)
        sent.sent(end)
        sent.acknowledge(upTo: 5)
        #expect(sent.resend() == [Self.batch(6), .end(end)])
        sent.acknowledge(upTo: 6)
        #expect(sent.resend() == [.end(end)], "the end follows every re-send, even of nothing")
    }

    @Test func messagesAreTheFramesTheyName() throws {
        #expect(DataMessage.ack(7) == DataMessage(kind: .ack, payload: BatchAck(batchID: 7).encoded()))
        #expect(DataMessage.resend == DataMessage(kind: .resend, payload: []))
        let end = EndOfStream(lastBatchID: 2, records: 5)
        #expect(try EndOfStream(decoding: DataMessage.end(end).payload) == end)
        #expect(BatchSequencer.startRequest == .resend)
    }
}
