import Testing
import Pipeline
import Wire

@Suite struct RecordBatchTests {
    static func sampleBatch(records count: Int = 12) -> RecordBatch {
        let records = (0..<count).map { (index: Int) -> TelemetryRecord in
            let hour = Int64(index / 3) * 3600
            let vibrationMean: Double? = index % 4 == 0 ? nil : 2.1
            let pressureMean: Double? = index % 3 == 0 ? nil : 4.9
            return TelemetryRecord(
                timestamp: 1_704_067_200 + hour, pumpID: "P_00\(index % 3 + 1)",
                flowRate: 500.25 + Double(index), pressure: 5.125, vibration: 2.0625, temperature: 45.5,
                failure: UInt8(index % 2),
                vibrationRollingMean: vibrationMean, pressureRollingMean: pressureMean)
        }
        return RecordBatch(batchID: 42, cursor: "page=7&after=2024-01-01T03:00:00Z", records: records)
    }

    @Test func roundTrips() throws {
        let batch = Self.sampleBatch()
        #expect(try RecordBatch(decoding: batch.encoded()) == batch)
        #expect(try RecordBatch(frame: Frame(kind: .recordBatch, sequence: 1, payload: batch.encoded())) == batch)
    }

    @Test func roundTripsAnEmptyBatch() throws {
        let batch = RecordBatch(batchID: 0, cursor: "", records: [])
        #expect(try RecordBatch(decoding: batch.encoded()) == batch)
    }

    @Test func roundTripsSpecialDoublesBitExactly() throws {
        let quietNaN = Double(bitPattern: 0x7FF8_0000_0000_0001)
        let negativeNaN = Double(bitPattern: 0xFFF4_0000_0000_BEEF)
        let record = TelemetryRecord(timestamp: -1, pumpID: "P_ü", flowRate: quietNaN, pressure: -0.0,
                                     vibration: .infinity, temperature: negativeNaN, failure: 255,
                                     vibrationRollingMean: .nan, pressureRollingMean: -.leastNonzeroMagnitude)
        let decoded = try RecordBatch(decoding: RecordBatch(batchID: 1, cursor: "c", records: [record]).encoded()).records[0]
        #expect(decoded == record)
        #expect(decoded.flowRate.bitPattern == quietNaN.bitPattern)
        #expect(decoded.temperature.bitPattern == negativeNaN.bitPattern)
        #expect(decoded.pressure.sign == .minus)
    }

    @Test func storesEachPumpIDOnce() {
        let batch = Self.sampleBatch(records: 300)
        let text = batch.encoded()
        let occurrences = (0...(text.count - 5)).filter { Array(text[$0..<$0 + 5]) == Array("P_001".utf8) }
        #expect(occurrences.count == 1)
    }

    @Test func rejectsEveryTruncation() {
        let bytes = Self.sampleBatch(records: 4).encoded()
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "cut at \(length)") { try RecordBatch(decoding: Array(bytes[..<length])) }
        }
    }

    @Test func rejectsTrailingBytes() {
        #expect(throws: WireError(.badPayload("record batch: 1 unexpected bytes after the end"))) {
            try RecordBatch(decoding: Self.sampleBatch().encoded() + [0])
        }
    }

    @Test func rejectsAnUnknownFormat() {
        var bytes = Self.sampleBatch().encoded()
        bytes[0] = 3
        #expect(throws: WireError(.badPayload("record batch: unknown format 3"))) { try RecordBatch(decoding: bytes) }
        // Format 1 carried a bare cursor string, without the position's skip: not read as 2.
        bytes[0] = 1
        #expect(throws: WireError(.badPayload("record batch: unknown format 1"))) { try RecordBatch(decoding: bytes) }
    }

    @Test func rejectsHugeCountsWithoutAllocating() throws {
        // format, batch id, no cursor (the first page), skip 0, then a pump table of 2^32-1 entries.
        let header: [UInt8] = [2] + [UInt8](repeating: 0, count: 8) + [0] + [0, 0, 0, 0]
        let pumps = try #require(throws: WireError.self) { try RecordBatch(decoding: header + [0xFF, 0xFF, 0xFF, 0xFF]) }
        #expect(pumps.description.contains("the pump table claims 4294967295 entries"))
        let records = try #require(throws: WireError.self) { try RecordBatch(decoding: header + [0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF, 0]) }
        #expect(records.description.contains("the record count claims 4294967295 entries"))
        let cursor = try #require(throws: WireError.self) { try RecordBatch(decoding: [2] + [UInt8](repeating: 0, count: 8) + [1, 0xFF, 0xFF, 0xFF, 0x7F]) }
        #expect(cursor.description.contains("the cursor claims 2147483647 bytes"))
    }

    @Test func rejectsAPumpIndexOutsideTheTable() throws {
        var bytes = RecordBatch(batchID: 1, cursor: "", records: [Self.sampleBatch().records[0]]).encoded()
        // format 1 + id 8 + cursor flag 1 + cursor 4 + skip 4 + table (4 + 4 + 5) + count 4 + timestamp 8 = 43: the pump index.
        bytes[43] = 1
        #expect(throws: WireError(.badPayload("record batch: record 0: pump index 1 outside a table of 1"))) {
            try RecordBatch(decoding: bytes)
        }
    }

    @Test func rejectsADuplicatePumpAndUnknownFlags() throws {
        let record = Self.sampleBatch().records[0]
        var bytes = RecordBatch(batchID: 1, cursor: "", records: [record]).encoded()
        bytes[bytes.count - 1] = 0x80
        #expect(throws: WireError(.badPayload("record batch: record 0: unknown flags 0x80"))) { try RecordBatch(decoding: bytes) }
        let duplicate: [UInt8] = [2] + [UInt8](repeating: 0, count: 8) + [0] + [0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x41, 1, 0, 0, 0, 0x41, 0, 0, 0, 0]
        #expect(throws: WireError(.badPayload("record batch: pump id 'A' twice in the table"))) { try RecordBatch(decoding: duplicate) }
    }

    @Test func survivesRandomBytes() {
        var random = SplitMix64(seed: 0xC1D9)
        for round in 0..<2000 {
            var bytes = (0..<Int(random.next() % 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if round % 2 == 0, !bytes.isEmpty { bytes[0] = RecordBatch.format }
            _ = try? RecordBatch(decoding: bytes)
        }
    }

    @Test func survivesCorruptedEncodings() {
        var random = SplitMix64(seed: 7)
        let bytes = Self.sampleBatch(records: 6).encoded()
        for _ in 0..<3000 {
            var corrupt = bytes
            for _ in 0..<(1 + random.next() % 3) {
                corrupt[Int(random.next() % UInt64(corrupt.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            if let decoded = try? RecordBatch(decoding: corrupt) {
                // Whatever decodes is a well-formed batch: it round-trips.
                #expect((try? RecordBatch(decoding: decoded.encoded())) == decoded)
            }
        }
    }
}

/// A small deterministic generator, so that failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
