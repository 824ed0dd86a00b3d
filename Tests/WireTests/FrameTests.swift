import Testing
@testable import Wire

@Suite struct FrameTests {
    @Test func encodesTheHeaderLittleEndianWithTheChecksumOverHeaderAndPayload() {
        let frame = Frame(kind: .progress, sequence: 0x0102_0304_0506_0708, payload: [0xAA, 0xBB, 0xCC])
        let bytes = frame.encoded()
        #expect(bytes.count == Frame.headerSize + 3)
        #expect(Array(bytes[0..<16]) == [0xC1, 0xD9, 3, 0, 8, 7, 6, 5, 4, 3, 2, 1, 3, 0, 0, 0])
        let crc = CRC32C.checksum(Array(bytes[0..<16]) + [0xAA, 0xBB, 0xCC])
        #expect(Array(bytes[16..<20]) == [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
        #expect(Array(bytes[20...]) == [0xAA, 0xBB, 0xCC])
    }

    @Test func encodeIntoAppendsAfterExistingBytes() {
        var buffer: [UInt8] = [1, 2, 3]
        let frame = Frame(kind: .ack, sequence: 9, payload: [4])
        frame.encode(into: &buffer)
        #expect(buffer == [1, 2, 3] + frame.encoded())
    }

    @Test func kindsHaveTheirWireNumbers() {
        let kinds: [(FrameKind, UInt16)] = [
            (.ready, 1), (.heartbeat, 2), (.progress, 3), (.health, 4), (.jobDone, 5), (.halted, 6), (.working, 7),
        ]
        for (kind, number) in kinds { #expect(kind.rawValue == number) }
        #expect(FrameKind.health.isControl)
        #expect(!FrameKind(rawValue: 16).isControl)
        #expect("\(FrameKind(rawValue: 999))" == "kind 999")
        #expect("\(FrameKind.heartbeat)" == "heartbeat")
    }

    @Test func roundTripsEveryKnownAndAnUnknownKind() throws {
        let kinds: [FrameKind] = [.ready, .heartbeat, .progress, .health, .jobDone,
                                  .recordBatch, .ack, .resend, .endOfStream, FrameKind(rawValue: 0xBEEF)]
        var decoder = FrameDecoder(channel: "test")
        for (index, kind) in kinds.enumerated() {
            let frame = Frame(kind: kind, sequence: UInt64(index), payload: Array(repeating: UInt8(index), count: index * 3))
            decoder.append(frame.encoded())
            #expect(try decoder.next() == frame)
        }
        #expect(try decoder.next() == nil)
        try decoder.finish()
    }
}
