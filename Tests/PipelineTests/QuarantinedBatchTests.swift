import Testing
import Pipeline
import Wire

@Suite struct QuarantinedBatchTests {
    private let sample = QuarantinedBatch(
        batch: RecordBatch(batchID: 7, cursor: "7000", records: [
            TelemetryRecord(timestamp: 946_684_800, pumpID: "P_001", flowRate: .infinity, pressure: -3,
                            vibration: .nan, temperature: 45, failure: 7),
            TelemetryRecord(timestamp: 946_684_800, pumpID: "BAD", flowRate: 500, pressure: 5,
                            vibration: 2, temperature: 45, failure: 0),
        ]),
        windowState: [1, 2, 3], gate: "record", action: "halt",
        reason: "record 0 (pump P_001 at 2000-01-01 00:00:00): flow_rate is inf (not finite)",
        evidence: "3 consecutive crashes on batch 7: killed by SIGABRT", dropped: 1)

    @Test func roundTripsRawRecordsUntouched() throws {
        let decoded = try QuarantinedBatch(decoding: sample.encoded())
        #expect(decoded.batch.batchID == 7)
        #expect(decoded.batch.position == SourcePosition(cursor: "7000"))
        #expect(decoded.gate == "record")
        #expect(decoded.action == "halt")
        #expect(decoded.reason == sample.reason)
        #expect(decoded.evidence == sample.evidence)
        #expect(decoded.dropped == 1)
        #expect(decoded.windowState == [1, 2, 3])
        #expect(decoded.batch.records.count == 2)
        #expect(decoded.batch.records[0].flowRate == .infinity)
        #expect(decoded.batch.records[0].vibration.isNaN)
        #expect(decoded.batch.records[0].failure == 7)
        #expect(decoded.batch.records[1].pumpID == "BAD")
    }

    @Test func rejectsTruncatedAndOverlongPayloads() {
        let bytes = sample.encoded()
        for length in [0, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: WireError.self) { try QuarantinedBatch(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: WireError.self) { try QuarantinedBatch(decoding: bytes + [0]) }
    }
}
