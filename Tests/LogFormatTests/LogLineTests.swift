import Testing
import LogFormat
import PortableRandom
import LogFormat

@Suite struct LogLineTests {
    @Test func encodesFieldsInFixedOrderWithSortedMetadata() {
        let line = LogLine(timestamp: "2024-05-01T12:34:56.789Z", level: "info", message: "Child started",
                           label: "cidp", metadata: ["z": "1", "a": "2", "child.id": "loader"])
        #expect(line.encoded() == #"{"timestamp":"2024-05-01T12:34:56.789Z","level":"info","label":"cidp","message":"Child started","metadata":{"a":"2","child.id":"loader","z":"1"}}"#)
    }

    @Test func leavesOutAbsentFieldsAndEmptyMetadata() {
        #expect(LogLine(level: "error", message: "x").encoded() == #"{"level":"error","message":"x"}"#)
    }

    @Test func escapesQuotesBackslashesAndControlCharacters() {
        let line = LogLine(level: "info", message: "a\"b\\c\nd\te\r\u{0}\u{1}\u{1F}\u{7F}")
        let encoded = line.encoded()
        #expect(encoded == #"{"level":"info","message":"a\"b\\c\nd\te\r\u0000\u0001\u001f\u007f"}"#)
        #expect(!encoded.contains("\n"))
        #expect(LogLine.decode(encoded) == line)
    }

    @Test(arguments: [
        "plain",
        "",
        "quote \" backslash \\ slash /",
        "lines\nand\r\nmore\n",
        "tabs\tand\u{8}\u{C}form feeds",
        "every control: \u{0}\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{B}\u{E}\u{F}\u{10}\u{1B}\u{1F}\u{7F}",
        "accents: déjà vu, Grüße, ŝ",
        "CJK 日本語 and emoji 🚂🛤️ and flags 🇫🇷",
        "combining e\u{301} and zero width \u{200B}\u{2028}\u{2029}",
        #"looks like JSON: {"level":"error","message":"x"}"#,
    ])
    func roundTripsAnyString(_ text: String) {
        let line = LogLine(timestamp: text, level: "warning", message: text, label: text,
                           metadata: [text: text, "k": text, "other": "v"])
        let encoded = line.encoded()
        #expect(!encoded.contains("\n"))
        #expect(!encoded.contains("\r"))
        #expect(LogLine.decode(encoded) == line)
    }

    @Test func roundTripsEveryLevel() {
        for level in LogLine.levelNames {
            let line = LogLine(level: level, message: "m")
            #expect(LogLine.decode(line.encoded()) == line)
        }
    }

    @Test func decodesUnicodeEscapesAndSurrogatePairs() {
        let decoded = LogLine.decode(#"{"level":"info","message":"\u00e9\u00E9 \u65e5 \ud83d\ude82 \/ \b\f"}"#)
        #expect(decoded?.message == "éé 日 🚂 / \u{8}\u{C}")
    }

    @Test func decodesWhitespaceNullsAndUnknownStringKeys() {
        let text = " \t{ \"level\" : \"debug\" ,\n \"message\":\"m\", \"timestamp\": null, \"label\":null,"
            + " \"source\":\"Workers\", \"metadata\" : { \"a\" : \"1\" } }\r\n"
        #expect(LogLine.decode(text) == LogLine(level: "debug", message: "m", metadata: ["a": "1"]))
        #expect(LogLine.decode(#"{"message":"m","level":"info","metadata":{}}"#) == LogLine(level: "info", message: "m"))
    }

    @Test func decodesFromSubstring() {
        let text = #"xx{"level":"info","message":"m"}"#
        #expect(LogLine.decode(text.dropFirst(2)) == LogLine(level: "info", message: "m"))
    }

    @Test(arguments: [
        "",
        " ",
        "hello world",
        "null",
        "[]",
        "\"string\"",
        "{}",
        "{",
        "}",
        #"{"level":"info"}"#,
        #"{"message":"m"}"#,
        #"{"level":"loud","message":"m"}"#,
        #"{"level":"INFO","message":"m"}"#,
        #"{"level":"info","message":"m"} trailing"#,
        #"{"level":"info","message":"m"}{}"#,
        #"{"level":"info","message":"m""#,
        #"{"level":"info","message":"m"#,
        #"{"level":"info","message":"m\"#,
        #"{"level":"info","message":"m\u12"}"#,
        #"{"level":"info","message":"m\u12g4"}"#,
        #"{"level":"info","message":"\ud83d"}"#,
        #"{"level":"info","message":"\ud83d\u0041"}"#,
        #"{"level":"info","message":"\ude82"}"#,
        #"{"level":"info","message":"\x"}"#,
        "{\"level\":\"info\",\"message\":\"raw\nnewline\"}",
        "{\"level\":\"info\",\"message\":\"raw\ttab\"}",
        #"{"level":"info","message":1}"#,
        #"{"level":"info","message":"m","label":true}"#,
        #"{"level":"info","message":"m","timestamp":123}"#,
        #"{"level":"info","message":"m","metadata":"x"}"#,
        #"{"level":"info","message":"m","metadata":["x"]}"#,
        #"{"level":"info","message":"m","metadata":{"a":1}}"#,
        #"{"level":"info","message":"m","metadata":{"a":{"b":"c"}}}"#,
        #"{"level":"info","message":"m","metadata":{"a":"1","a":"2"}}"#,
        #"{"level":"info","message":"m","metadata":{"a":"1",}}"#,
        #"{"level":"info","message":"m","extra":{"a":"1"}}"#,
        #"{"level":"info","message":"m","extra":nul}"#,
        #"{"level":"info","level":"info","message":"m"}"#,
        #"{"level":"info","message":"m",}"#,
        #"{"level":"info" "message":"m"}"#,
        #"{"level":"info","message"}"#,
        #"{level:"info","message":"m"}"#,
        #"{'level':'info','message':'m'}"#,
    ])
    func rejectsMalformedInput(_ text: String) {
        #expect(LogLine.decode(text) == nil)
    }

    @Test func rejectsEveryTruncationOfAValidLine() {
        let encoded = LogLine(timestamp: "t", level: "notice", message: "déjà \"vu\" 🚂\n", label: "l",
                              metadata: ["a": "1", "b": "\u{1}"]).encoded()
        let bytes = Array(encoded.utf8)
        for length in 0..<bytes.count {
            #expect(LogLine.decode(String(decoding: bytes[0..<length], as: UTF8.self)) == nil)
        }
    }

    @Test func neverTrapsOnRandomBytes() {
        var generator = SplitMix64(state: 0xC1D9)
        let alphabet = Array(#"{}[]":,\ nulabcdefgilmostuvr0123456789"#.utf8) + [0x00, 0x0A, 0x1F, 0xC3, 0xA9, 0xFF]
        let valid = Array(LogLine(level: "info", message: "m", metadata: ["a": "b"]).encoded().utf8)
        for round in 0..<3_000 {
            var bytes: [UInt8]
            if round.isMultiple(of: 2) {
                bytes = (0..<Int(generator.next() % 80)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            } else {
                // Mutate a valid line in one place, which reaches the deeper parser states.
                bytes = valid
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            let decoded = LogLine.decode(String(decoding: bytes, as: UTF8.self))
            if let decoded {
                #expect(LogLine.levelNames.contains(decoded.level))
            }
        }
    }

    @Test(arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00.000Z"),
        (Int64(1_714_566_896), 789, "2024-05-01T12:34:56.789Z"),
        (Int64(951_782_400), 5, "2000-02-29T00:00:00.005Z"),
        (Int64(4_102_444_799), 999, "2099-12-31T23:59:59.999Z"),
        (Int64(-1), 0, "1969-12-31T23:59:59.000Z"),
    ])
    func formatsTimestamps(seconds: Int64, milliseconds: Int, expected: String) {
        #expect(LogLine.formatTimestamp(secondsSinceEpoch: seconds, milliseconds: milliseconds) == expected)
    }
}
