import Testing
import Pipeline
import Wire

@Suite struct BatchAckTests {
    @Test func roundTrips() throws {
        for id: UInt64 in [0, 1, 0xDEAD_BEEF_0000_0001, .max] {
            let ack = BatchAck(batchID: id)
            #expect(ack.encoded().count == 8)
            #expect(try BatchAck(decoding: ack.encoded()) == ack)
            #expect(try BatchAck(frame: Frame(kind: .ack, sequence: 2, payload: ack.encoded())) == ack)
        }
    }

    @Test func rejectsAnyOtherLength() {
        for length in [0, 7, 9] {
            #expect(throws: WireError.self) { try BatchAck(decoding: [UInt8](repeating: 1, count: length)) }
        }
    }

    @Test func rejectsAnotherKind() {
        #expect(throws: WireError(.badPayload("resend is not an ack"), sequence: 4)) {
            try BatchAck(frame: Frame(kind: .resend, sequence: 4, payload: BatchAck(batchID: 1).encoded()))
        }
    }
}
