import Testing
import Pipeline
import Wire
import Workers

@Suite struct TransformValidationTests {
    let validator = RecordValidator(rules: ValidationRules())
    let sample = TransformSamples.record()

    @Test func defaultRecordIsValid() {
        #expect(validator.validate(sample) == .valid)
    }

    @Test(arguments: Reading.allCases)
    func missingReadingIsDroppedNamingTheField(_ reading: Reading) {
        var record = sample
        set(reading, .nan, in: &record)
        #expect(validator.validate(record) == .dropped(.missing(reading)))
        #expect(DropReason.missing(reading).description == "\(reading.rawValue) missing (NaN)")
    }

    @Test func missingWinsOverOtherFaults() {
        var record = sample
        record.vibration = .nan
        record.pressure = .infinity
        record.pumpID = "X"
        #expect(validator.validate(record) == .dropped(.missing(.vibration)))
    }

    @Test(arguments: Reading.allCases)
    func infiniteReadingIsRejected(_ reading: Reading) {
        for value in [Double.infinity, -Double.infinity] {
            var record = sample
            set(reading, value, in: &record)
            #expect(validator.validate(record) == .rejected(.nonFinite(reading, value: value)))
        }
    }

    @Test(arguments: Reading.allCases)
    func rangeBoundsAreInclusiveAndOneStepOutsideIsRejected(_ reading: Reading) {
        let range = ValidationRules().range(of: reading)
        for inside in [range.lowerBound, range.upperBound, range.lowerBound.nextUp, range.upperBound.nextDown] {
            var record = sample
            set(reading, inside, in: &record)
            #expect(validator.validate(record) == .valid, "\(reading) \(inside)")
        }
        for outside in [range.lowerBound.nextDown, range.upperBound.nextUp, range.lowerBound - 1e-6, range.upperBound + 1e-6] {
            var record = sample
            set(reading, outside, in: &record)
            #expect(validator.validate(record) == .rejected(.outOfRange(reading, value: outside, range: range)), "\(reading) \(outside)")
        }
    }

    @Test func outOfRangeReasonNamesFieldValueAndRange() {
        let reason = RejectReason.outOfRange(.pressure, value: 50.5, range: 0...50)
        #expect(reason.description == "pressure 50.5 outside 0.0…50.0")
        #expect(reason.kind == .outOfRange)
    }

    @Test(arguments: ["P_1", "P_0001", "p_001", "P-001", "P_00a", "", "P_٣٣٣", "PP_001", "P_001 "])
    func badPumpIDIsRejected(_ id: String) {
        var record = sample
        record.pumpID = id
        #expect(validator.validate(record) == .rejected(.badPumpID(id)))
    }

    @Test(arguments: ["P_000", "P_001", "P_999"])
    func wellFormedPumpIDsPass(_ id: String) {
        var record = sample
        record.pumpID = id
        #expect(validator.validate(record) == .valid)
    }

    @Test(arguments: [UInt8(2), 3, 255])
    func labelOutsideZeroOneIsRejected(_ label: UInt8) {
        var record = sample
        record.failure = label
        #expect(validator.validate(record) == .rejected(.badFailureLabel(label)))
    }

    @Test func failureOneIsValid() {
        var record = sample
        record.failure = 1
        #expect(validator.validate(record) == .valid)
    }

    @Test func customRulesApply() {
        let rules = ValidationRules(pressure: 1...10, allowedFailures: [0], pumpIDPrefix: "L", pumpIDDigitCount: 2)
        let custom = RecordValidator(rules: rules)
        var record = sample
        record.pumpID = "L42"
        #expect(custom.validate(record) == .valid)
        record.failure = 1
        #expect(custom.validate(record) == .rejected(.badFailureLabel(1)))
        record.failure = 0
        record.pressure = 0.5
        #expect(custom.validate(record) == .rejected(.outOfRange(.pressure, value: 0.5, range: 1...10)))
        #expect(rules.pumpNumber(of: "L07") == 7)
        #expect(rules.pumpNumber(of: "P_007") == nil)
    }

    private func set(_ reading: Reading, _ value: Double, in record: inout TelemetryRecord) {
        switch reading {
        case .flowRate: record.flowRate = value
        case .pressure: record.pressure = value
        case .vibration: record.vibration = value
        case .temperature: record.temperature = value
        }
    }
}
