import Testing
import Pipeline
import Wire
@testable import Workers

/// A page of `records` (JSON texts) under the page keys `records` and `next_cursor` by default.
private func page(_ records: [String], recordsKey: String = "records", cursorKey: String = "next_cursor",
                  cursor: String = "null") -> [UInt8] {
    Array("{\"\(recordsKey)\":[\(records.joined(separator: ","))],\"\(cursorKey)\":\(cursor)}".utf8)
}

/// A record with the contract's names, `timestamp` written as `timestamp` (JSON text).
private func record(_ timestamp: String, pump: String = "\"P_001\"", flow: String = "512.3", failure: String = "0") -> String {
    "{\"timestamp\":\(timestamp),\"pump_id\":\(pump),\"flow_rate\":\(flow),\"pressure\":4.98,\"vibration\":2.1,\"temperature\":44.7,\"failure\":\(failure)}"
}

/// The Unix seconds the first record of a one-record page decodes to.
private func seconds(_ timestamp: String, _ format: SourceFormat = .standard) throws -> Int64 {
    try TelemetryPage.decode(page([record(timestamp)]), format: format).records[0].timestamp
}

/// The malformed-body error of `body`, or nil if it decodes.
private func refusal(_ body: [UInt8], _ format: SourceFormat = .standard) -> (problem: String, location: ExtractError.BodyLocation)? {
    do {
        _ = try TelemetryPage.decode(body, format: format)
        return nil
    } catch {
        guard case .malformedBody(let problem, let location) = error.code else { return nil }
        return (problem, location)
    }
}

private func format(_ fields: [String] = [], timestamps: String? = nil) throws -> SourceFormat {
    try SourceFormat.parse(fields: fields, timestampFormat: timestamps)
}

/// 2001-01-01T00:00:00Z.
private let newYear2001: Int64 = 978_307_200

@Suite struct ExtractSourceFormatTests {
    // MARK: RFC 3339

    @Test(arguments: [
        ("2001-01-01T00:00:00Z", newYear2001), ("2001-01-01T00:00:00.000+00:00", newYear2001),
        ("2001-01-01T00:00:00-00:00", newYear2001), ("2001-01-01t00:00:00z", newYear2001),
        ("2001-01-01 00:00:00Z", newYear2001), ("2001-01-01T00:00:00.9Z", newYear2001),
        ("2001-01-01T00:00:00.999999999999999999999Z", newYear2001), ("2001-01-01T00:00:00.5+00:00", newYear2001),
        // Offsets east and west of UTC, whole hours and not.
        ("2001-01-01T05:30:00+05:30", newYear2001), ("2000-12-31T19:00:00-05:00", newYear2001),
        ("2001-01-01T00:00:00.123456+01:00", newYear2001 - 3600), ("2001-01-01T00:45:00.75+00:45", newYear2001),
        ("2000-12-31T10:00:00-14:00", newYear2001), ("2001-01-01T23:59:59+23:59", newYear2001 + 59),
        // Across a leap day, before 1970 (truncation goes towards the past).
        ("2000-02-29T23:00:00-01:00", 951_868_800), ("1969-12-31T23:59:59.5Z", -1), ("1970-01-01T00:00:00.001Z", 0),
        ("0000-01-01T00:00:00Z", UTCTimestamp.earliest), ("9999-12-31T23:59:59.999Z", UTCTimestamp.latest),
    ])
    func readsEveryRFC3339FormAsUTCTruncatedToTheSecond(_ text: String, _ expected: Int64) throws {
        #expect(try seconds("\"\(text)\"") == expected, "\(text)")
    }

    @Test func aTimestampWithEscapesIsDecodedFirst() throws {
        #expect(try seconds(#""2001-01-01T00:00:00\u002B00:00""#) == newYear2001)
    }

    @Test(arguments: [
        ("2001-01-01T00:00:00+0000", "is not an RFC 3339"), ("2001-01-01T00:00:00+00", "is not an RFC 3339"),
        ("2001-01-01T00:00:00+24:00", "is not an RFC 3339"), ("2001-01-01T00:00:00+00:60", "is not an RFC 3339"),
        ("2001-01-01T00:00:00.+00:00", "is not an RFC 3339"), ("2001-01-01T00:00:00.5", "is not an RFC 3339"),
        ("2001-01-01T00:00:00ZZ", "is not an RFC 3339"), ("2001-01-01T00:00:00 Z", "is not an RFC 3339"),
        ("2001-01-01", "is not an RFC 3339"), ("2001-02-29T00:00:00Z", "is not an RFC 3339"),
        ("2016-12-31T23:59:60Z", "is a leap second"), ("0000-01-01T00:00:00+00:01", "lies outside the years 0000–9999"),
        ("9999-12-31T23:59:59-00:01", "lies outside the years 0000–9999"),
    ])
    func refusesWhatIsNotRFC3339NamingTheRecordAndField(_ text: String, _ problem: String) throws {
        let body = page([record("\"2001-01-01T00:00:00Z\""), record("\"\(text)\"")])
        let found = try #require(refusal(body))
        #expect(found.problem == "timestamp '\(text)' " + found.problem.dropFirst("timestamp '\(text)' ".count))
        #expect(found.problem.contains(problem), "\(found.problem)")
        #expect(found.location.record == 1)
        #expect(found.location.field == "timestamp")
        #expect(found.location.offset == String(decoding: body, as: UTF8.self).utf8.count
            - String(decoding: body, as: UTF8.self).split(separator: "\"\(text)\"", maxSplits: 1, omittingEmptySubsequences: false)[1].utf8.count
            - text.utf8.count - 2)
    }

    // MARK: Unix time

    @Test(arguments: [
        ("978307200", newYear2001), ("\"978307200\"", newYear2001), ("978307200.999", newYear2001),
        ("\"978307200.5\"", newYear2001), ("0", 0), ("-1", -1), ("-0.5", -1), ("-1.0", -1), ("-1.25", -2),
    ])
    func readsEpochSeconds(_ text: String, _ expected: Int64) throws {
        #expect(try seconds(text, try format(timestamps: "epoch-seconds")) == expected, "\(text)")
    }

    @Test(arguments: [
        ("978307200000", newYear2001), ("978307200999", newYear2001), ("\"978307200123\"", newYear2001),
        ("978307200999.9", newYear2001), ("-1", -1), ("-1000", -1), ("-1001", -2), ("999", 0),
    ])
    func readsEpochMilliseconds(_ text: String, _ expected: Int64) throws {
        #expect(try seconds(text, try format(timestamps: "epoch-millis")) == expected, "\(text)")
    }

    @Test(arguments: ["1e9", "\"9.78e8\"", "01", "\"\"", "\"2001-01-01T00:00:00Z\"", "null", "true", "1234567890123456789",
                      "253402300800", "-62167219201", "\" 1\"", "[1]"])
    func refusesEpochSecondsThatAreNot(_ text: String) throws {
        let found = try #require(refusal(page([record(text)]), try format(timestamps: "epoch-seconds")), "\(text)")
        #expect(found.location.field == "timestamp" && found.location.record == 0, "\(text): \(found)")
    }

    @Test func anRFC3339SourceDoesNotTakeNumbers() throws {
        let found = try #require(refusal(page([record("978307200")])))
        #expect(found.problem == "expected '\"', found '9'")
        #expect(found.location.field == "timestamp")
    }

    // MARK: Field names

    @Test func readsARenamedSourceValueForValue() throws {
        let renamed = try format(["records=data", "next_cursor=next", "timestamp=ts", "pump_id=asset", "flow_rate=flow",
                                  "failure=fault"], timestamps: "epoch-millis")
        // Fields in another order, extra fields, numbers as strings, the contract's own names ignored.
        let item = "{\"fault\":true,\"temperature\":\"44.7\",\"ts\":\"978307200500\",\"timestamp\":\"not read\","
            + "\"asset\":\"P_007\",\"vibration\":2.1,\"extra\":{\"a\":[1,2,{}]},\"pressure\":\"4.98\",\"flow\":\"-0.5e1\"}"
        let body = Array("{\"meta\":{\"page\":1},\"next\":\"abc\",\"data\":[\(item)]}".utf8)
        let decoded = try TelemetryPage.decode(body, format: renamed)
        #expect(decoded == TelemetryPage(records: [
            TelemetryRecord(timestamp: newYear2001, pumpID: "P_007", flowRate: -5, pressure: 4.98, vibration: 2.1,
                            temperature: 44.7, failure: 1),
        ], nextCursor: "abc"))
    }

    @Test func namesTheSourcesNameForARenamedField() throws {
        let renamed = try format(["timestamp=ts", "pump_id=asset"])
        let item = record("\"2001-01-01T00:00:00Z\"").replacingOccurrences(of: "\"timestamp\"", with: "\"ts\"")
        // pump_id is called asset here: a record with only "pump_id" lacks it.
        let missing = try #require(refusal(page([item]), renamed))
        #expect(missing.problem == "missing key 'asset' (pump_id)")
        #expect(missing.location.description.hasSuffix("(record 0, field 'asset' (pump_id))"))
        let wrong = item.replacingOccurrences(of: "\"pump_id\"", with: "\"asset\"")
            .replacingOccurrences(of: "\"2001-01-01T00:00:00Z\"", with: "\"yesterday\"")
        let found = try #require(refusal(page([wrong]), renamed))
        #expect(found.problem.hasPrefix("timestamp 'yesterday' is not an RFC 3339"))
        #expect(found.location.field == "timestamp" && found.location.sourceName == "ts")
        #expect(found.location.description == "byte \(found.location.offset) (record 0, field 'ts' (timestamp))")
    }

    @Test(arguments: [
        (["pump=asset"], "unknown field 'pump'"), (["pump_id"], "expects FIELD=NAME"), (["pump_id="], "must be non-empty"),
        (["pump_id=a\tb"], "without control characters"), (["pump_id=a", "pump_id=b"], "renamed twice"),
        (["pump_id=timestamp"], "fields 'timestamp' and 'pump_id' would both be named 'timestamp'"),
        (["records=x", "next_cursor=x"], "fields 'records' and 'next_cursor' would both be named 'x'"),
    ])
    func refusesABadMappingInOneLine(_ fields: [String], _ problem: String) throws {
        let error = try #require(throws: WorkerUsageError.self) { try format(fields) }
        #expect(error.description.hasPrefix("worker extractor: --field"))
        #expect(error.description.contains(problem), "\(error)")
        // A record field may share a name with a page key: they live in different objects.
        #expect(try format(["pump_id=records"]).name(of: .pumpID) == "records")
        #expect(throws: WorkerUsageError.self) { try format(timestamps: "iso8601") }
    }

    // MARK: Numbers as strings, extra fields

    @Test(arguments: ["\"512.3\"", "\"5.123e2\"", "\"-0\"", "\"9007199254740993\""])
    func readsReadingsSentAsStrings(_ text: String) throws {
        let value = try TelemetryPage.decode(page([record("\"2001-01-01T00:00:00Z\"", flow: text)])).records[0].flowRate
        #expect(value.bitPattern == Double(String(text.dropFirst().dropLast()))!.bitPattern)
    }

    @Test(arguments: ["\"\"", "\" 1\"", "\"1 \"", "\"0x10\"", "\"NaN\"", "\"1\\u0030\"", "\"512.3\"x"])
    func refusesStringsThatAreNotOneNumber(_ text: String) throws {
        let found = try #require(refusal(page([record("\"2001-01-01T00:00:00Z\"", flow: text)])), "\(text)")
        #expect(found.location.field == "flow_rate" || found.problem.hasPrefix("expected ',' or '}'"), "\(text): \(found)")
    }

    @Test(arguments: [("\"1\"", UInt8(1)), ("\"0\"", 0), ("true", 1), ("false", 0), ("255", 255)])
    func readsFailureAsANumberStringOrBoolean(_ text: String, _ expected: UInt8) throws {
        #expect(try TelemetryPage.decode(page([record("\"2001-01-01T00:00:00Z\"", failure: text)])).records[0].failure == expected)
    }

    @Test func refusesAPumpIDOrCursorTooLongForABatch() throws {
        let longest = String(repeating: "P", count: TelemetryPageParser.maximumPumpIDLength)
        let fine = page([record("\"2001-01-01T00:00:00Z\"", pump: "\"\(longest)\"")])
        #expect(try TelemetryPage.decode(fine).records[0].pumpID == longest)
        let huge = page([record("\"2001-01-01T00:00:00Z\"", pump: "\"" + String(repeating: "P", count: 1 << 20) + "\"")])
        let found = try #require(refusal(huge))
        #expect(found.problem == "a string longer than \(TelemetryPageParser.maximumPumpIDLength) bytes")
        #expect(found.location.field == "pump_id" && found.location.record == 0)
        let escaped = String(repeating: "\\u0050", count: TelemetryPageParser.maximumPumpIDLength + 1)
        #expect(refusal(page([record("\"2001-01-01T00:00:00Z\"", pump: "\"\(escaped)\"")]))?.location.field == "pump_id")
        let cursor = "\"" + String(repeating: "c", count: TelemetryPageParser.maximumCursorLength + 1) + "\""
        #expect(refusal(page([], cursor: cursor))?.location.field == "next_cursor")
    }

    @Test func takesAnIntegerCursor() throws {
        let decoded = try TelemetryPage.decode(page([], cursor: "2000"))
        #expect(decoded.nextCursor == "2000")
        #expect(refusal(page([], cursor: "2000.5"))?.problem == "next_cursor is a number but not an integer")
    }

    @Test func refusesNestingPastTheLimitNamingTheSkippedField() throws {
        let depth = TelemetryPageParser.maximumSkippedDepth
        let fine = "{\"deep\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + ","
        let body = page([record("\"2001-01-01T00:00:00Z\"").replacingOccurrences(of: "{", with: fine)])
        #expect(try TelemetryPage.decode(body).records.count == 1)
        for nesting in ["[", "{\"a\":", "[{\"b\":"] {
            let deep = "{\"deep\":" + String(repeating: nesting, count: 100_000)
            let hostile = page([record("\"2001-01-01T00:00:00Z\"").replacingOccurrences(of: "{", with: deep)])
            let found = try #require(refusal(hostile))
            #expect(found.problem == "nesting deeper than \(depth) levels")
            #expect(found.location.record == 0 && found.location.field == "deep")
        }
    }

    @Test(arguments: ["{\"a\" 1}", "[1,]", "[1 2]", "{\"a\":1,}", "{1:2}", "tru", "\"\\x\"", "01", "[", "{\"a\":[}]}", "nul"])
    func refusesAnExtraFieldThatIsNotJSON(_ text: String) throws {
        let body = Array("{\"records\":[],\"junk\":\(text),\"next_cursor\":null}".utf8)
        let found = try #require(refusal(body), "\(text)")
        #expect(found.location.field == "junk", "\(text): \(found)")
    }
}
