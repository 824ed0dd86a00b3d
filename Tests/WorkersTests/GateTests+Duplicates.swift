import Testing
import Pipeline
import Wire
import Workers

/// Issue 10: "A duplicate across pages whose flow_rate, temperature or failure differ is counted
/// as an exact duplicate and dropped (only vibration and pressure are compared)." A repeat of a
/// pump's last record of an earlier batch is compared on every field, as within a batch.
extension GateTests {
    /// Pump P_010's last accepted record, from the previous batch of `transformer()`, with one field changed.
    static func repeatOfLastRecord(changing field: String) -> TelemetryRecord {
        var copy = Self.clean(1000)[999]
        switch field {
        case "flow_rate": copy.flowRate += 1
        case "pressure": copy.pressure += 0.5
        case "vibration": copy.vibration += 0.25
        case "temperature": copy.temperature -= 1
        case "failure": copy.failure = 1 - copy.failure
        default: preconditionFailure("no field \(field)")
        }
        return copy
    }

    @Test(arguments: ["flow_rate", "pressure", "vibration", "temperature", "failure"])
    func aRepeatAcrossBatchesDifferingInAnyOneFieldFailsTheRecordGate(field: String) throws {
        var transformer = Self.transformer()
        let violation = try #require(Self.violation(of: [Self.repeatOfLastRecord(changing: field)] + Self.next(10), in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected.map(\.index) == [0])
        #expect(violation.rejected.first?.reason.kind == .conflictingDuplicate)
        #expect(violation.reason.contains("again with other values (\(field) "), "\(violation.reason)")
        #expect(violation.reason.hasSuffix("accepted in an earlier batch)"), "\(violation.reason)")
    }

    /// The state a restarted transformer resumes from keeps the last record's fields.
    @Test(arguments: ["flow_rate", "temperature", "failure"])
    func theComparisonSurvivesARestartFromTheCheckpoint(field: String) throws {
        let saved = Self.transformer().state.encoded()
        var resumed = GatedTransformer(rules: ValidationRules(), gates: .default, state: try TransformerState(decoding: saved))
        let violation = try #require(Self.violation(of: [Self.repeatOfLastRecord(changing: field)], in: &resumed))
        #expect(violation.rejected.first?.reason.kind == .conflictingDuplicate)
        #expect(violation.reason.contains("again with other values (\(field) "), "\(violation.reason)")
    }

    @Test func anExactRepeatAcrossBatchesIsDroppedAndCountedAfterARestartToo() throws {
        let saved = Self.transformer().state.encoded()
        var resumed = GatedTransformer(rules: ValidationRules(), gates: .default, state: try TransformerState(decoding: saved))
        let outcome = try #require(Self.passed([Self.clean(1000)[999]] + Self.next(10), in: &resumed))
        #expect(outcome.dropped == [.duplicate: 1])
        #expect(outcome.measurements.duplicates == 1 && outcome.output.records.count == 10)
    }

    /// A checkpoint written before the state kept the other fields: the pump's next repeat is
    /// compared on what was kept, vibration and pressure; its next record makes the rest known.
    @Test func aFormatOneCheckpointComparesWhatItKept() throws {
        let oldBlob = Self.formatOne(Self.transformer().state.windows)
        var resumed = GatedTransformer(rules: ValidationRules(), gates: .default, state: try TransformerState(decoding: oldBlob))
        var probe = resumed
        let unknown = try #require(Self.passed([Self.repeatOfLastRecord(changing: "flow_rate")], in: &probe))
        #expect(unknown.dropped == [.duplicate: 1])
        let known = try #require(Self.violation(of: [Self.repeatOfLastRecord(changing: "pressure")], in: &resumed))
        #expect(known.rejected.first?.reason.kind == .conflictingDuplicate)
    }
}
