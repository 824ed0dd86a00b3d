@testable import Predictor
import Testing

struct PredictionInputTests {
    static let reading = #"{"pump_id":"P_001","timestamp":"2020-01-01T05:00:00Z","flow_rate":500,"pressure":5,"vibration":2,"temperature":45}"#

    func problem(_ body: String) -> InputProblem? {
        do { _ = try PredictionInput(body: Array(body.utf8), maximumReadings: 3) } catch { return error }
        return nil
    }

    @Test func oneObjectOrAnArrayParse() throws {
        let one = try PredictionInput(body: Array(Self.reading.utf8), maximumReadings: 3)
        #expect(!one.isArray && one.readings.count == 1)
        #expect(one.readings[0].timestamp == 1_577_854_800 && one.readings[0].vibrationRollingMean == nil)
        let many = try PredictionInput(body: Array("[\(Self.reading),\(Self.reading)]".utf8), maximumReadings: 3)
        #expect(many.isArray && many.readings.count == 2)
    }

    @Test func aBadFieldIsNamedWithItsIndex() {
        let bad = Self.reading.replacingOccurrences(of: #""pressure":5"#, with: #""pressure":"high""#)
        #expect(problem(bad) == InputProblem(field: "pressure", message: "expected a finite number"))
        let inArray = problem("[\(Self.reading),\(bad)]")
        #expect(inArray?.index == 1 && inArray?.field == "pressure")
        #expect(inArray?.description == "readings[1].pressure: expected a finite number")
        let missing = Self.reading.replacingOccurrences(of: #","temperature":45"#, with: "")
        #expect(problem(missing) == InputProblem(field: "temperature", message: "missing"))
        #expect(problem(Self.reading.replacingOccurrences(of: "2020-01-01T05:00:00Z", with: "yesterday"))?.field == "timestamp")
        #expect(problem(Self.reading.replacingOccurrences(of: #""P_001""#, with: "7"))?.field == "pump_id")
        #expect(problem(Self.reading.replacingOccurrences(of: "500", with: "true"))?.field == "flow_rate")
    }

    @Test func hostileBodiesAreRefusedNotCrashedOn() {
        #expect(problem("") != nil)
        #expect(problem("null") != nil)
        #expect(problem("{") != nil)
        #expect(problem(String(repeating: "[", count: 100_000)) != nil)
        #expect(problem("[]") != nil)
        #expect(problem("[\(Self.reading),\(Self.reading),\(Self.reading),\(Self.reading)]")?.message.contains("at most 3") == true)
        #expect(problem(Self.reading.replacingOccurrences(of: "500", with: "1e999")) != nil)
        #expect(problem("[1,2]")?.index == 0)
    }

    @Test func rfc3339FormsNormaliseToUTCSeconds() {
        #expect(RFC3339.parse("2020-01-01T05:00:00Z") == 1_577_854_800)
        #expect(RFC3339.parse("2020-01-01t05:00:00.999999z") == 1_577_854_800)
        #expect(RFC3339.parse("2020-01-01T07:30:00+02:30") == 1_577_854_800)
        #expect(RFC3339.parse("2020-01-01 04:00:00-01:00") == 1_577_854_800)
        #expect(RFC3339.parse("2020-02-30T00:00:00Z") == nil)
        #expect(RFC3339.parse("2020-01-01T00:00:60Z") == nil)
        #expect(RFC3339.parse("2020-01-01T00:00:00") == nil)
        #expect(RFC3339.parse("2020-01-01T00:00:00.Z") == nil)
        #expect(RFC3339.format(1_577_854_800) == "2020-01-01T05:00:00Z")
    }
}
