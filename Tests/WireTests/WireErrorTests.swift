import Glibc
import Testing
import Posix
@testable import Wire

@Suite struct WireErrorTests {
    @Test func describesChannelFrameAndChecksumsOnOneLine() {
        let error = WireError(.badChecksum(expected: 0xDEAD_BEEF, got: 0x1A), channel: "extractor→transformer", sequence: 42)
        #expect(error.description == "channel 'extractor→transformer': frame 42: checksum mismatch (expected 0xDEADBEEF, got 0x0000001A)")
    }

    @Test func omitsWhatIsUnknown() {
        #expect(WireError(.closed).description == "closed by the peer")
        #expect(WireError(.badMagic(found: 0x1234), channel: "c").description == "channel 'c': bad magic 0x1234 where a frame should start (expected 0xD9C1)")
    }

    @Test func everyCodeGivesOneLine() {
        let codes: [WireError.Code] = [
            .badMagic(found: 0), .badChecksum(expected: 1, got: 2), .oversized(length: 99_999_999),
            .truncated(remaining: 3), .outOfSequence(expected: 4, got: 6), .badPayload("progress: stage"),
            .closed, .io(Errno(rawValue: EIO)),
        ]
        for code in codes {
            let text = WireError(code, channel: "loader control", sequence: 7).description
            #expect(text.hasPrefix("channel 'loader control': frame 7: "))
            #expect(!text.contains("\n"))
        }
        #expect(WireError(.outOfSequence(expected: 4, got: 6)).description == "out of sequence (expected frame 4, got 6)")
        #expect(WireError(.io(Errno(rawValue: EIO))).description.contains("Input/output error"))
    }
}
