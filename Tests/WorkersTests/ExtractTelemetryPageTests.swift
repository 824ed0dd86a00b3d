import PortableRandom
import Foundation
import Testing
import Pipeline
import Wire
@testable import Workers

/// A record's JSON with `flow_rate` written as `flowRate` and anything else as given.
private func recordJSON(timestamp: String = "\"2025-01-01T00:00:00Z\"", pumpID: String = "\"P_001\"",
                        flowRate: String = "512.3", pressure: String = "4.98", vibration: String = "2.1",
                        temperature: String = "44.7", failure: String = "0") -> String {
    "{\"timestamp\":\(timestamp),\"pump_id\":\(pumpID),\"flow_rate\":\(flowRate),\"pressure\":\(pressure),"
        + "\"vibration\":\(vibration),\"temperature\":\(temperature),\"failure\":\(failure)}"
}

/// A page holding `records` (JSON texts) and `cursor` (JSON text).
private func pageJSON(_ records: [String], cursor: String = "\"1000\"") -> String {
    "{\"records\":[" + records.joined(separator: ",") + "],\"next_cursor\":" + cursor + "}"
}

private func decode(_ text: String) throws(ExtractError) -> TelemetryPage {
    try TelemetryPage.decode(Array(text.utf8))
}

/// The problem and location of the malformed-body error `text` gives; nil if it decodes.
private func malformation(_ text: String) -> (problem: String, location: ExtractError.BodyLocation)? {
    do {
        _ = try decode(text)
        return nil
    } catch {
        guard case .malformedBody(let problem, let location) = error.code else {
            Issue.record("not a malformed-body error: \(error)")
            return nil
        }
        #expect(error.isRetryable)
        return (problem, location)
    }
}

@Suite struct ExtractTelemetryPageTests {
    @Test func decodesTheDocumentedShape() throws {
        let page = try decode(pageJSON([recordJSON(), recordJSON(pumpID: "\"P_002\"", failure: "1")]))
        #expect(page.nextCursor == "1000")
        #expect(page.records == [
            TelemetryRecord(timestamp: 1_735_689_600, pumpID: "P_001", flowRate: 512.3, pressure: 4.98,
                            vibration: 2.1, temperature: 44.7, failure: 0),
            TelemetryRecord(timestamp: 1_735_689_600, pumpID: "P_002", flowRate: 512.3, pressure: 4.98,
                            vibration: 2.1, temperature: 44.7, failure: 1),
        ])
    }

    @Test func acceptsKeysInAnyOrderAndWhitespaceAnywhere() throws {
        let text = " \n{ \"next_cursor\" : null ,\t\"records\" :\r\n [ { \"failure\" : 1 , \"temperature\":-3 ,"
            + "\"vibration\":0,\"pressure\":1e2,\"flow_rate\":-0.5,\"pump_id\":\"P_9\",\"timestamp\":\"1970-01-01T00:00:01Z\" } ] } \n"
        let page = try decode(text)
        #expect(page.nextCursor == nil)
        #expect(page.records == [TelemetryRecord(timestamp: 1, pumpID: "P_9", flowRate: -0.5, pressure: 100,
                                                 vibration: 0, temperature: -3, failure: 1)])
    }

    @Test func decodesAnEmptyLastPage() throws {
        #expect(try decode("{\"records\":[],\"next_cursor\":null}") == TelemetryPage(records: [], nextCursor: nil))
    }

    @Test func readsANullReadingAsNaN() throws {
        let page = try decode(pageJSON([recordJSON(pressure: "null", temperature: "null")]))
        #expect(page.records[0].pressure.isNaN)
        #expect(page.records[0].temperature.isNaN)
        #expect(page.records[0].flowRate == 512.3)
    }

    @Test(arguments: [
        "512.3", "4.98", "0.1", "-0", "-0.0", "0e400", "1e-7", "2.5E+3", "9007199254740993", "9007199254740992",
        "123456789012345678901234567890", "0.30000000000000004", "2.2250738585072014e-308", "4.9e-324",
        "1.7976931348623157e308", "1e22", "1e23", "8.98846567431158e307", "0.000000000000000000000000000000001",
        "44.712345678901234", "1234567890123456789", "12345678901234567890", "3.141592653589793238462643383279",
    ])
    func convertsNumbersExactly(_ text: String) throws {
        let page = try decode(pageJSON([recordJSON(flowRate: text)]))
        #expect(page.records[0].flowRate.bitPattern == Double(text)!.bitPattern)
    }

    @Test func convertsRandomNumbersExactly() throws {
        var generator = SeededGenerator(seed: 42)
        var texts: [String] = []
        for _ in 0..<2000 {
            texts.append(Double(bitPattern: generator.next() & 0x7FEF_FFFF_FFFF_FFFF).description)
            texts.append(String(Double.random(in: -1000...1000, using: &generator)))
            let digits = (0..<Int.random(in: 1...25, using: &generator)).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
            let text = "\(Int.random(in: 1...9, using: &generator))\(digits.prefix(10)).\(digits)e\(Int.random(in: -330...290, using: &generator))"
            texts.append(text)
        }
        for text in texts {
            let page = try decode(pageJSON([recordJSON(vibration: text)]))
            let expected = Double(text)!
            #expect(page.records[0].vibration.bitPattern == expected.bitPattern, "\(text)")
        }
    }

    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)), ("1969-12-31T23:59:59Z", -1), ("2025-01-01T00:00:00Z", 1_735_689_600),
        ("2000-02-29T12:34:56Z", 951_827_696), ("2024-12-31T23:00:00Z", 1_735_686_000), ("0001-01-01T00:00:00Z", -62_135_596_800),
    ])
    func readsTimestampsAsUnixSeconds(_ text: String, _ seconds: Int64) throws {
        #expect(try decode(pageJSON([recordJSON(timestamp: "\"\(text)\"")])).records[0].timestamp == seconds)
    }

    @Test func decodesEscapesInStrings() throws {
        let page = try decode(pageJSON([recordJSON(pumpID: #""P\u005f0\"1\\\/\ud83d\ude80é""#)], cursor: #""c\n""#))
        #expect(page.records[0].pumpID == "P_0\"1\\/🚀é")
        #expect(page.nextCursor == "c\n")
        // An escaped key still names the key.
        let escapedKey = pageJSON([recordJSON()]).replacingOccurrences(of: "\"pump_id\"", with: #""pump\u005Fid""#)
        #expect(try decode(escapedKey).records[0].pumpID == "P_001")
    }

    @Test func namesTheMissingKeyAndRecord() throws {
        let broken = recordJSON().replacingOccurrences(of: ",\"failure\":0", with: "")
        let found = try #require(malformation(pageJSON([recordJSON(), broken])))
        #expect(found.problem == "missing key 'failure'")
        #expect(found.location.record == 1)
        #expect(found.location.field == "failure")
        let noCursor = try #require(malformation("{\"records\":[]}"))
        #expect(noCursor.problem == "missing key 'next_cursor'")
        #expect(noCursor.location.offset == 13)
    }

    @Test func namesTheFieldOfAValueOfTheWrongType() throws {
        let text = pageJSON([recordJSON(), recordJSON(), recordJSON(pressure: "[4.9]")])
        let found = try #require(malformation(text))
        #expect(found.problem == "expected a number, found '['")
        #expect(found.location == ExtractError.BodyLocation(offset: offset(of: "[4.9]", in: text), record: 2, field: "pressure"))
        #expect(malformation(pageJSON([recordJSON(pumpID: "7")]))?.location.field == "pump_id")
        #expect(malformation(pageJSON([recordJSON(failure: "null")]))?.location.field == "failure")
        #expect(malformation(pageJSON([recordJSON()], cursor: "{}"))?.location.field == "next_cursor")
        #expect(malformation("{\"records\":{},\"next_cursor\":null}")?.location.field == "records")
    }

    @Test func refusesAnEmptyNextCursor() throws {
        // "" could not be told from the first page once it is the warehouse's resume position.
        let text = pageJSON([recordJSON()], cursor: "\"\"")
        let found = try #require(malformation(text))
        #expect(found.problem == "next_cursor is an empty string; null ends the pages")
        #expect(found.location.field == "next_cursor")
    }

    @Test func rejectsTrailingData() throws {
        let text = pageJSON([recordJSON()])
        let found = try #require(malformation(text + " x"))
        #expect(found.problem == "trailing data after the page object")
        #expect(found.location.offset == text.utf8.count + 1)
        #expect(malformation(text + "{}") != nil)
        #expect(malformation(text + "\u{0}") != nil)
    }

    @Test(arguments: [
        "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-01-32T00:00:00Z",
        "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z", "2025-01-01T00:00:60Z", "2025-01-01_00:00:00Z",
        "2025-01-01T00:00:00", "2025-1-01T00:00:00Z", "2025-01-01T00:00:00.Z", "",
    ])
    func rejectsBadTimestamps(_ text: String) throws {
        let found = try #require(malformation(pageJSON([recordJSON(timestamp: "\"\(text)\"")])))
        #expect(found.problem.hasPrefix("timestamp '\(text)'"))
        #expect(found.location.field == "timestamp")
        #expect(found.location.record == 0)
    }

    @Test func skipsUnknownKeysAndRefusesRepeatedOnes() throws {
        // Fields the page does not need, at either level, are passed over whatever their value.
        let extra = recordJSON().replacingOccurrences(of: "{", with: "{\"humidity\":3,\"tags\":[\"a\",{\"b\":[null,true,false,-1.5e3]}],")
        let page = pageJSON([extra]).replacingOccurrences(of: "{\"records\"", with: "{\"meta\":{\"count\":1},\"records\"")
        #expect(try decode(page).records == [TelemetryRecord(timestamp: 1_735_689_600, pumpID: "P_001", flowRate: 512.3,
                                                             pressure: 4.98, vibration: 2.1, temperature: 44.7, failure: 0)])
        // A record key at the page level, or a page key in a record, is another field there.
        #expect(try decode("{\"records\":[],\"failure\":0,\"next_cursor\":null}").records.isEmpty)
        let repeated = recordJSON().replacingOccurrences(of: "{", with: "{\"failure\":1,")
        #expect(malformation(pageJSON([repeated]))?.problem == "repeated key 'failure'")
    }

    @Test(arguments: [
        "01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "NaN", "Infinity", "-Infinity", "0x10", "1.5.2", "1e400", "-1e400", "nul", "true",
    ])
    func rejectsNumbersOutsideTheJSONGrammarOrRange(_ text: String) throws {
        let found = try #require(malformation(pageJSON([recordJSON(temperature: text)])))
        #expect(found.location.field == "temperature" || found.problem.hasPrefix("expected ',' or '}'"), "\(found)")
    }

    @Test(arguments: ["-1", "256", "1.0", "1e0", "01", "tru", "\"1.0\"", "\" 1\"", "\"\"", "null"])
    func rejectsFailureOutsideZeroTo255(_ text: String) throws {
        #expect(malformation(pageJSON([recordJSON(failure: text)])) != nil)
        #expect(try decode(pageJSON([recordJSON(failure: "255")])).records[0].failure == 255)
    }

    @Test(arguments: [#""P\x""#, #""P\u12""#, #""\ud83d""#, #""\ude80x""#, "\"P\u{1}\"", "\"P\n\""])
    func rejectsBadStrings(_ text: String) throws {
        #expect(malformation(pageJSON([recordJSON(pumpID: text)]))?.location.field == "pump_id")
    }

    @Test func rejectsInvalidUTF8() throws {
        var bytes = Array(pageJSON([recordJSON(pumpID: "\"P_\u{E9}\"")]).utf8)
        let index = try #require(bytes.firstIndex(of: 0xC3))
        bytes[index] = 0xFF
        #expect(throws: ExtractError.self) { try TelemetryPage.decode(bytes) }
    }

    @Test func namesTheOffsetWhereATruncatedBodyEnds() throws {
        let text = pageJSON([recordJSON(), recordJSON()])
        let bytes = Array(text.utf8)
        for length in 0..<bytes.count {
            do {
                _ = try TelemetryPage.decode(Array(bytes[0..<length]))
                Issue.record("a body cut at \(length) of \(bytes.count) bytes decoded")
            } catch {
                guard case .malformedBody(let problem, let location) = error.code else {
                    Issue.record("\(error)")
                    continue
                }
                #expect(location.offset <= length)
                #expect(problem.contains("ends early") || problem.hasPrefix("timestamp") || problem.hasPrefix("expected"), "\(problem)")
            }
        }
        let half = Array(bytes[0..<bytes.count / 2])
        #expect(throws: ExtractError.self) { try TelemetryPage.decode(half) }
    }

    @Test func survivesHostileInput() {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array("{}[]\":,.-+0123456789eEnulltrue \\\"recordsnext_cursor".utf8)
        for round in 0..<20_000 {
            let length = Int.random(in: 0...200, using: &generator)
            let bytes: [UInt8] = (0..<length).map { _ in
                round % 2 == 0 ? UInt8.random(in: 0...255, using: &generator) : alphabet.randomElement(using: &generator)!
            }
            _ = try? TelemetryPage.decode(bytes)
        }
        for nesting in ["[", "{", "{\"records\":[", "{\"records\":[{\"timestamp\":["] {
            let deep = Array((nesting + String(repeating: "[{\"a\":", count: 200_000)).utf8)
            #expect(throws: ExtractError.self) { try TelemetryPage.decode(deep) }
        }
    }

    @Test func describesTheErrorOnOneLine() throws {
        let error = ExtractError(.malformedBody("expected a number, found '\"'", at: .init(offset: 812, record: 4, field: "pressure")),
                                 url: "http://127.0.0.1:8080/v1/telemetry?limit=1000")
        #expect(error.description == "GET http://127.0.0.1:8080/v1/telemetry?limit=1000: malformed body: expected a number, found '\"' at byte 812 (record 4, field 'pressure')")
    }
}

/// The byte offset of the first `needle` in `text`.
private func offset(of needle: String, in text: String) -> Int {
    text.utf8.count - text[text.range(of: needle)!.lowerBound...].utf8.count
}

/// SplitMix64, for reproducible random inputs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
