import Supervisor
import Testing

@Suite struct LoggingLineSplitterTests {
    private func feed(_ splitter: inout LineSplitter, _ bytes: [UInt8]) -> [String] {
        bytes.withUnsafeBytes { splitter.append($0) }
    }

    private func feed(_ splitter: inout LineSplitter, _ text: String) -> [String] {
        feed(&splitter, Array(text.utf8))
    }

    /// Every line the splitter yields for `bytes` cut at `cuts`, then the tail from `finish()`.
    private func split(_ bytes: [UInt8], at cuts: [Int], maxLineBytes: Int) -> [String] {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var lines: [String] = []
        var start = 0
        for cut in cuts.sorted() + [bytes.count] where cut >= start {
            lines += feed(&splitter, Array(bytes[start..<cut]))
            start = cut
        }
        if let tail = splitter.finish() { lines.append(tail) }
        return lines
    }

    @Test func returnsCompleteLinesAndKeepsTheRest() {
        var splitter = LineSplitter()
        #expect(feed(&splitter, "one\ntwo\nthr") == ["one", "two"])
        #expect(feed(&splitter, "ee") == [])
        #expect(feed(&splitter, "\n\nfour\n") == ["three", "", "four"])
        #expect(splitter.finish() == nil)
    }

    @Test func stripsOnlyTheCarriageReturnBeforeANewline() {
        var splitter = LineSplitter()
        #expect(feed(&splitter, "dos\r\nmid\rdle\n\r\n\r\r\n") == ["dos", "mid\rdle", "", "\r"])
        #expect(feed(&splitter, "split\r") == [])
        #expect(feed(&splitter, "\n") == ["split"])
    }

    @Test func finishReturnsTheUnterminatedTailOnce() {
        var splitter = LineSplitter()
        #expect(feed(&splitter, "done\npartial\r") == ["done"])
        #expect(splitter.finish() == "partial")
        #expect(splitter.finish() == nil)
        #expect(feed(&splitter, "again\n") == ["again"])
    }

    @Test func repairsInvalidUTF8() {
        var splitter = LineSplitter()
        #expect(feed(&splitter, [0x61, 0xFF, 0x62, 0x0A, 0xC3, 0x0A, 0xE6, 0x97, 0xA5, 0x0A]) == ["a\u{FFFD}b", "\u{FFFD}", "日"])
    }

    @Test func cutsOverlongLinesIntoPieces() {
        var splitter = LineSplitter(maxLineBytes: 8)
        #expect(feed(&splitter, "abcdefghijklmnopqrst\nxy\n") == ["abcdefgh", "ijklmnop", "qrst", "xy"])
    }

    @Test func cutsAnUnterminatedOverlongLineWithoutWaitingForItsEnd() {
        var splitter = LineSplitter(maxLineBytes: 8)
        #expect(feed(&splitter, "abcdefgh") == [])
        #expect(feed(&splitter, "i") == ["abcdefgh"])
        #expect(feed(&splitter, String(repeating: "j", count: 20)) == ["ijjjjjjj", "jjjjjjjj"])
        #expect(feed(&splitter, "\n") == ["jjjjj"])
    }

    @Test func aNewlineRightAfterACutDoesNotMakeAnEmptyLine() {
        var splitter = LineSplitter(maxLineBytes: 4)
        #expect(feed(&splitter, "abcd\r") == ["abcd"])
        #expect(feed(&splitter, "\n") == [])
        #expect(feed(&splitter, "efghi") == ["efgh"])
        #expect(feed(&splitter, "jkl") == [])
        #expect(feed(&splitter, "\n\n") == ["ijkl", ""]) // the second newline ends a real empty line
        #expect(splitter.finish() == nil)
    }

    @Test func lineOfExactlyMaxBytesIsOnePiece() {
        var splitter = LineSplitter(maxLineBytes: 4)
        #expect(feed(&splitter, "abcd") == [])
        #expect(feed(&splitter, "\nefgh\r\n") == ["abcd", "efgh"])
    }

    @Test func doesNotCutInsideAUTF8Sequence() {
        var splitter = LineSplitter(maxLineBytes: 5)
        // "abcd" + é (2 bytes) + "f": the cut goes before é, not through it.
        #expect(feed(&splitter, "abcdéf\n") == ["abcd", "éf"])
        #expect(feed(&splitter, "ab🚂🚂\n") == ["ab", "🚂", "🚂"])
        #expect(feed(&splitter, "abcd🚂xyz") == ["abcd", "🚂x"])
        #expect(splitter.finish() == "yz")
    }

    @Test func byteByByteGivesTheSameLinesAsOneChunk() {
        let text = Array("first\r\nsecond 日本語 🚂\n\nthird with a long tail that is cut\nlast".utf8)
        let whole = split(text, at: [], maxLineBytes: 7)
        #expect(whole.first == "first")
        #expect(whole.last == "last")
        #expect(split(text, at: Array(0...text.count), maxLineBytes: 7) == whole)
    }

    @Test func randomSplitsGiveTheSameLines() {
        var generator = SplitMix64(seed: 42)
        let alphabet: [UInt8] = Array("ab \n\r".utf8) + Array("é🚂".utf8) + [0xFF, 0x80]
        for _ in 0..<300 {
            let count = Int(generator.next() % 120)
            let bytes = (0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let maxLineBytes = 4 + Int(generator.next() % 8)
            let whole = split(bytes, at: [], maxLineBytes: maxLineBytes)
            let cuts = (0..<Int(generator.next() % 12)).map { _ in Int(generator.next() % UInt64(count + 1)) }
            #expect(split(bytes, at: cuts, maxLineBytes: maxLineBytes) == whole)
            #expect(whole.allSatisfy { $0.utf8.count <= maxLineBytes * 3 }) // FFFD is 3 bytes per invalid byte
            if String(decoding: bytes, as: UTF8.self).utf8.elementsEqual(bytes) { // valid UTF-8: no repair
                #expect(whole.allSatisfy { $0.utf8.count <= maxLineBytes })
            }
        }
    }
}
