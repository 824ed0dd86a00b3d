import Testing
@testable import Wire

@Suite struct FrameDecoderTests {
    private func frames(_ sequences: [UInt64], kind: FrameKind = .recordBatch) -> [Frame] {
        sequences.map { Frame(kind: kind, sequence: $0, payload: Array("payload \($0)".utf8)) }
    }

    private func decodeAll(_ decoder: inout FrameDecoder) throws(WireError) -> [Frame] {
        var out: [Frame] = []
        while let frame = try decoder.next() { out.append(frame) }
        return out
    }

    @Test func decodesFramesFedOneByteAtATime() throws {
        let sent = frames(Array(0..<5)) + [Frame(kind: .heartbeat, sequence: 5)]
        let bytes = sent.flatMap { $0.encoded() }
        var decoder = FrameDecoder(channel: "bytes")
        var received: [Frame] = []
        for byte in bytes {
            decoder.append([byte])
            while let frame = try decoder.next() { received.append(frame) }
        }
        #expect(received == sent)
        #expect(decoder.bufferedByteCount == 0)
        try decoder.finish()
    }

    @Test func decodesManyFramesAppendedAtOnce() throws {
        let sent = frames(Array(0..<1000))
        var decoder = FrameDecoder()
        decoder.append(sent.flatMap { $0.encoded() })
        #expect(try decodeAll(&decoder) == sent)
    }

    @Test func detectsACorruptedByteAnywhereAndNeverReturnsAWrongFrame() {
        let frame = Frame(kind: .recordBatch, sequence: 7, payload: Array("twelve bytes".utf8))
        let bytes = frame.encoded()
        for index in bytes.indices {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var corrupt = bytes
                corrupt[index] ^= flip
                var decoder = FrameDecoder(channel: "flip", expectedSequence: 7)
                decoder.append(corrupt)
                do {
                    let decoded = try decoder.next()
                    // A corrupted length may make the decoder wait for bytes that never come; at EOF that is `truncated`.
                    #expect(decoded == nil, "byte \(index) ^ \(flip) decoded as \(String(describing: decoded))")
                    #expect(throws: WireError.self) { try decoder.finish() }
                } catch {
                    switch error.code {
                    case .badMagic, .badChecksum, .oversized: #expect(error.channel == "flip")
                    default: Issue.record("byte \(index) ^ \(flip): unexpected \(error)")
                    }
                }
            }
        }
    }

    @Test func reportsAChecksumMismatchWithBothValuesAndTheSequence() throws {
        var bytes = Frame(kind: .ack, sequence: 42, payload: [1, 2, 3]).encoded()
        bytes[21] ^= 0x10
        var decoder = FrameDecoder(channel: "extractor→transformer")
        decoder.append(bytes)
        let error = try #require(throws: WireError.self) { try decoder.next() }
        guard case .badChecksum(let expected, let got) = error.code else { Issue.record("\(error)"); return }
        #expect(expected != got)
        #expect(error.sequence == 42)
        #expect(error.description.hasPrefix("channel 'extractor→transformer': frame 42: checksum mismatch"))
        // The failure sticks until resynchronise().
        #expect(throws: error) { try decoder.next() }
    }

    @Test func reportsTruncationAtEveryLength() throws {
        let bytes = Frame(kind: .progress, sequence: 3, payload: Array(repeating: 9, count: 30)).encoded()
        for length in 1..<bytes.count {
            var decoder = FrameDecoder(channel: "eof")
            decoder.append(Array(bytes[..<length]))
            #expect(try decoder.next() == nil)
            let error = try #require(throws: WireError.self) { try decoder.finish() }
            #expect(error.code == .truncated(remaining: length))
            #expect(error.sequence == (length >= 12 ? 3 : nil))
        }
    }

    @Test func rejectsAnOversizedLengthBeforeWaitingForThePayload() throws {
        var bytes = Frame(kind: .recordBatch, sequence: 1).encoded()
        let length = UInt32(Frame.maxPayload + 1)
        bytes.replaceSubrange(12..<16, with: [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)])
        var decoder = FrameDecoder(channel: "big")
        decoder.append(bytes)
        #expect(throws: WireError(.oversized(length: length), channel: "big", sequence: 1)) { try decoder.next() }
    }

    @Test func acceptsAPayloadOfExactlyTheLimit() throws {
        let frame = Frame(kind: .recordBatch, sequence: 0, payload: Array(repeating: 0x5A, count: Frame.maxPayload))
        var decoder = FrameDecoder()
        decoder.append(frame.encoded())
        #expect(try decoder.next() == frame)
    }

    @Test func reportsAGapAndDropsTheFrame() throws {
        var decoder = FrameDecoder(channel: "gap")
        decoder.append(frames([0, 1, 3, 2]).flatMap { $0.encoded() })
        #expect(try decoder.next()?.sequence == 0)
        #expect(try decoder.next()?.sequence == 1)
        #expect(throws: WireError(.outOfSequence(expected: 2, got: 3), channel: "gap", sequence: 3)) { try decoder.next() }
        #expect(try decoder.next()?.sequence == 2)
        #expect(try decoder.next() == nil)
    }

    @Test func reportsARepeat() throws {
        var decoder = FrameDecoder(channel: "repeat")
        decoder.append(frames([0, 1, 1, 2]).flatMap { $0.encoded() })
        #expect(try decoder.next()?.sequence == 0)
        #expect(try decoder.next()?.sequence == 1)
        #expect(throws: WireError(.outOfSequence(expected: 2, got: 1), channel: "repeat", sequence: 1)) { try decoder.next() }
        #expect(try decoder.next()?.sequence == 2)
    }

    @Test func reportsReorderingAsTwoErrors() throws {
        var decoder = FrameDecoder(channel: "reorder")
        decoder.append(frames([0, 2, 1, 3]).flatMap { $0.encoded() })
        #expect(try decoder.next()?.sequence == 0)
        #expect(throws: WireError(.outOfSequence(expected: 1, got: 2), channel: "reorder", sequence: 2)) { try decoder.next() }
        #expect(try decoder.next()?.sequence == 1)
        #expect(throws: WireError(.outOfSequence(expected: 2, got: 3), channel: "reorder", sequence: 3)) { try decoder.next() }
    }

    @Test func checksAgainstAConfiguredFirstSequence() throws {
        var decoder = FrameDecoder(channel: "start", expectedSequence: 10)
        decoder.append(frames([11]).flatMap { $0.encoded() })
        #expect(throws: WireError(.outOfSequence(expected: 10, got: 11), channel: "start", sequence: 11)) { try decoder.next() }
    }

    @Test func acceptsAnyOrderWhenNotCheckingSequences() throws {
        var decoder = FrameDecoder(checksSequence: false)
        decoder.append(frames([5, 5, 2, 9]).flatMap { $0.encoded() })
        #expect(try decodeAll(&decoder).map(\.sequence) == [5, 5, 2, 9])
    }

    @Test func resynchronisesAfterLeadingGarbage() throws {
        let garbage: [UInt8] = [0x00, 0xC1, 0x17, 0xC1, 0xD9, 0x01, 0xFF, 0xC1]
        let sent = frames([0, 1])
        var decoder = FrameDecoder(channel: "garbage")
        decoder.append(garbage + sent.flatMap { $0.encoded() })
        let error = try #require(throws: WireError.self) { try decoder.next() }
        #expect(error.code == .badMagic(found: 0xC100))
        decoder.resynchronise()
        #expect(try decodeAll(&decoder) == sent)
        #expect(decoder.discardedByteCount == garbage.count)
    }

    @Test func resynchronisesPastACorruptFrameToTheNextGoodOne() throws {
        let sent = frames([0, 1, 2])
        var first = sent[0].encoded()
        first[first.count - 1] ^= 0xFF
        var decoder = FrameDecoder(channel: "skip")
        decoder.append(first + sent[1].encoded())
        #expect(throws: WireError.self) { try decoder.next() }
        decoder.resynchronise()
        #expect(try decoder.next() == sent[1])
        decoder.append(sent[2].encoded())
        #expect(try decoder.next() == sent[2])
        #expect(decoder.discardedByteCount == first.count)
    }

    @Test func resynchronisingWaitsForMoreBytesWhenTheCandidateIsIncomplete() throws {
        let sent = frames([4])
        let bytes = sent[0].encoded()
        var decoder = FrameDecoder(channel: "wait")
        decoder.append([0x55, 0x55] + bytes[..<10])
        #expect(throws: WireError.self) { try decoder.next() }
        decoder.resynchronise()
        #expect(try decoder.next() == nil)
        decoder.append(Array(bytes[10...]))
        #expect(try decoder.next() == sent[0])
        try decoder.finish()
    }

    @Test func keepsTheBufferCompactOverManySmallFrames() throws {
        var decoder = FrameDecoder()
        let frame = Frame(kind: .heartbeat, sequence: 0)
        for sequence in 0..<10_000 as Range<UInt64> {
            var next = frame
            next.sequence = sequence
            decoder.append(next.encoded())
            #expect(try decoder.next()?.sequence == sequence)
        }
        #expect(decoder.bufferedByteCount == 0)
    }
}
