import PortableRandom
import Foundation
import Testing
import Pipeline
import Wire
@testable import Workers

/// The hand-written JSON, checked with Foundation's decoder (independent of the encoder).
@Suite struct SimulatorJSONTests {
    private func decode(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    private func double(_ value: Any?) throws -> Double {
        try #require((value as? NSNumber)?.doubleValue, "not a number: \(String(describing: value))")
    }

    /// Decodes one row back into a record, doubles compared bit for bit by `TelemetryRecord.==`.
    static func record(from row: [String: Any]) throws -> TelemetryRecord {
        func number(_ key: String) throws -> Double {
            try #require((row[key] as? NSNumber)?.doubleValue, "\(key) is not a number: \(String(describing: row[key]))")
        }
        let stamp = try #require(row["timestamp"] as? String)
        let formatter = ISO8601DateFormatter()
        let date = try #require(formatter.date(from: stamp), "timestamp '\(stamp)'")
        return TelemetryRecord(
            timestamp: Int64(date.timeIntervalSince1970), pumpID: try #require(row["pump_id"] as? String),
            flowRate: try number("flow_rate"), pressure: try number("pressure"),
            vibration: try number("vibration"), temperature: try number("temperature"),
            failure: UInt8(try #require((row["failure"] as? NSNumber)?.intValue)))
    }

    @Test func pageRoundTripsThroughFoundationExactly() throws {
        let generator = TelemetryGenerator(seed: 42, count: 3000)
        let object = try decode(TelemetryJSON.page(generator, cursor: 1000, limit: 1000, faults: SimulatorFaults()))
        let rows = try #require(object["records"] as? [[String: Any]])
        #expect(rows.count == 1000)
        #expect(object["next_cursor"] as? String == "2000")
        for (offset, row) in rows.enumerated() {
            #expect(try Self.record(from: row) == generator.record(at: 1000 + offset))
        }
    }

    @Test func firstRowHasTheContractShape() throws {
        let bytes = TelemetryJSON.page(TelemetryGenerator(seed: 42, count: 1), cursor: 0, limit: 10, faults: SimulatorFaults())
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\"records\":[{\"timestamp\":\"2000-01-01T00:00:00Z\",\"pump_id\":\"P_001\",\"flow_rate\":"))
        #expect(text.hasSuffix(",\"failure\":0}],\"next_cursor\":null}") || text.hasSuffix(",\"failure\":1}],\"next_cursor\":null}"))
    }

    @Test func lastPageAndEmptyPageEndWithNullCursor() throws {
        let generator = TelemetryGenerator(seed: 1, count: 25)
        let last = try decode(TelemetryJSON.page(generator, cursor: 20, limit: 1000, faults: SimulatorFaults()))
        #expect((last["records"] as? [Any])?.count == 5)
        #expect(last["next_cursor"] is NSNull)
        let empty = try decode(TelemetryJSON.page(generator, cursor: 25, limit: 1000, faults: SimulatorFaults()))
        #expect((empty["records"] as? [Any])?.isEmpty == true)
        #expect(empty["next_cursor"] is NSNull)
    }

    /// A growing (follow) source keeps its cursor open while it grows, and ends at the generator's end.
    @Test func openEndedSourceEndsAtTheGeneratorsLastRecord() throws {
        let generator = TelemetryGenerator(seed: 1, count: 30)
        let growing = try decode(TelemetryJSON.page(generator, cursor: 10, limit: 1000, faults: SimulatorFaults(), available: 20))
        #expect((growing["records"] as? [Any])?.count == 10)
        #expect(growing["next_cursor"] as? String == "20")
        let last = try decode(TelemetryJSON.page(generator, cursor: 20, limit: 1000, faults: SimulatorFaults(), available: 45))
        #expect((last["records"] as? [Any])?.count == 10)
        #expect(last["next_cursor"] is NSNull)
    }

    /// Any double: the emitted token parses back bit for bit with a correctly rounding parser
    /// (the standard library's). Foundation's `JSONSerialization` on Linux is not one — it is
    /// off by a few ulps on 17-digit numbers — so it only checks the document is valid JSON here.
    @Test(arguments: [
        0.1 + 0.2, 1e-300, .leastNonzeroMagnitude, 123_456_789.123_456_7, 1e22, 1e6, -300, -0.0, 0, 4.98, -0.05,
        0.07, Double.pi, -Double.greatestFiniteMagnitude, 9_007_199_254_740_992, 0x1p53 + 2, 45_035_996_273_704.96,
    ])
    func doublesRoundTripExactly(value: Double) throws {
        var json = TelemetryJSON()
        json.appendDouble(value)
        let token = String(decoding: json.bytes, as: UTF8.self)
        let decoded = try #require(Double(token), "'\(token)' is not a number")
        #expect(decoded.bitPattern == value.bitPattern, "\(value) came back as \(decoded) from '\(token)'")
        _ = try decode(Array("{\"v\":\(token)}".utf8))
    }

    @Test func randomDoublesRoundTripExactly() throws {
        var random = SplitMix64(seed: 11, index: 0, stream: .readings)
        for _ in 0..<20_000 {
            // Random sign and mantissa, exponent kept finite.
            let value = Double(bitPattern: random.next() & ~(0x7FF << 52) | (random.next() % 2046 + 1) << 52)
            var json = TelemetryJSON()
            json.appendDouble(value)
            let token = String(decoding: json.bytes, as: UTF8.self)
            #expect(Double(token)?.bitPattern == value.bitPattern, "\(value) written as '\(token)'")
        }
    }

    /// Readings are whole hundredths: those survive even Foundation's decoder bit for bit.
    @Test func hundredthsRoundTripThroughFoundationExactly() throws {
        var random = SplitMix64(seed: 12, index: 0, stream: .readings)
        var json = TelemetryJSON()
        var values: [Double] = []
        json.append("{\"v\":[")
        for index in 0..<20_000 {
            let value = TelemetryGenerator.centesimal((random.nextUnit() - 0.5) * 2e6)
            values.append(value)
            if index > 0 { json.append(",") }
            json.appendDouble(value)
        }
        json.append("]}")
        let decoded = try #require(try decode(json.bytes)["v"] as? [NSNumber])
        #expect(decoded.map { $0.doubleValue.bitPattern } == values.map(\.bitPattern))
    }

    @Test func nonFiniteReadingsAndMissingReadingsAreNull() throws {
        var json = TelemetryJSON()
        json.append("[")
        json.appendDouble(.nan)
        json.append(",")
        json.appendDouble(-.infinity)
        json.append("]")
        #expect(String(decoding: json.bytes, as: UTF8.self) == "[null,null]")
        var faults = SimulatorFaults()
        faults.missingRate = 1
        let object = try decode(TelemetryJSON.page(TelemetryGenerator(seed: 4, count: 500), cursor: 0, limit: 500, faults: faults))
        for row in try #require(object["records"] as? [[String: Any]]) {
            let nulls = ["flow_rate", "pressure", "vibration", "temperature"].filter { row[$0] is NSNull }
            #expect(nulls.count == 1)
        }
    }

    @Test func timestampsFollowTheCalendar() {
        let cases: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00Z"), (1_735_689_600, "2025-01-01T00:00:00Z"),
            (1_709_164_800 + 3 * 3600 + 4 * 60 + 5, "2024-02-29T03:04:05Z"), (-1, "1969-12-31T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
        ]
        for (seconds, expected) in cases {
            var json = TelemetryJSON()
            json.appendTimestamp(seconds)
            #expect(String(decoding: json.bytes, as: UTF8.self) == expected)
        }
    }

    @Test func errorBodiesEscapeQuotesAndControlCharacters() throws {
        let object = try decode(TelemetryJSON.error("cursor 'a\"b\\c\n' is bad", parameter: "cursor"))
        #expect(object["error"] as? String == "cursor 'a\"b\\c\n' is bad")
        #expect(object["parameter"] as? String == "cursor")
        #expect(try decode(TelemetryJSON.health(records: 12)) as NSDictionary == ["status": "ok", "records": 12])
    }
}
