import Testing
import Pipeline
import Wire
import Workers

/// The integrity gates: each poisoned or malformed input fails the right gate and leaves the
/// state exactly as it was; clean data passes; the policy parses strictly; the state survives
/// restarts bit for bit.
@Suite struct GateTests {
    /// 2026-11-29T00:00:00Z.
    static let now: Int64 = 1_795_910_400

    // MARK: Helpers

    /// `count` clean simulator records from `cursor` (seed 42), in stream order.
    static func clean(_ count: Int, from cursor: Int = 0) -> [TelemetryRecord] {
        TelemetryGenerator(seed: 42, count: TelemetryGenerator.maximumCount).page(cursor: cursor, limit: count)
    }

    static func batch(_ records: [TelemetryRecord], id: UInt64 = 1) -> RecordBatch {
        RecordBatch(batchID: id, cursor: "c\(id)", records: records)
    }

    /// A transformer that has accepted `history` clean records (in batches of 1000), so pumps
    /// have windows and, with 5000 or more, the reference profile is complete.
    static func transformer(gates: GatePolicy = .default, history: Int = 1000) -> GatedTransformer {
        var transformer = GatedTransformer(rules: ValidationRules(), gates: gates)
        for start in stride(from: 0, to: history, by: 1000) {
            guard case .passed = transformer.process(batch(clean(min(1000, history - start), from: start)), now: now) else {
                preconditionFailure("clean history failed a gate")
            }
        }
        return transformer
    }

    /// Processes `records` as the next batch and returns the violation, checking the state did not move.
    static func violation(of records: [TelemetryRecord], in transformer: inout GatedTransformer, now: Int64 = now,
                          sourceLocation: SourceLocation = #_sourceLocation) -> GateViolation? {
        let before = transformer.state
        let bytes = before.encoded()
        switch transformer.process(batch(records, id: 99), now: now) {
        case .passed(let outcome):
            Issue.record("expected a violation, passed: \(outcome.measurements)", sourceLocation: sourceLocation)
            return nil
        case .violated(let violation):
            #expect(transformer.state == before, "the state moved", sourceLocation: sourceLocation)
            #expect(transformer.state.encoded() == bytes, sourceLocation: sourceLocation)
            return violation
        }
    }

    static func passed(_ records: [TelemetryRecord], in transformer: inout GatedTransformer, now: Int64 = now,
                       sourceLocation: SourceLocation = #_sourceLocation) -> TransformOutcome? {
        switch transformer.process(batch(records, id: 98), now: now) {
        case .passed(let outcome): return outcome
        case .violated(let violation):
            Issue.record("expected a pass: \(violation)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The next `count` clean records after a history of `history`.
    static func next(_ count: Int = 1000, after history: Int = 1000) -> [TelemetryRecord] {
        clean(count, from: history)
    }

    // MARK: Record gate

    @Test func outOfRangeReadingFailsTheRecordGateNamingTheFirstRecord() throws {
        var transformer = Self.transformer()
        var records = Self.next(40)
        records[17].pressure = 912.4
        for index in [20, 25, 30] { records[index].flowRate = -1 }
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .record && violation.action == .halt && violation.dropped == 0)
        // Record 1017 of the stream: pump P_008, hour 101 (2000-01-05 05:00:00).
        #expect(violation.reason == "record 17 (pump P_008 at 2000-01-05 05:00:00): pressure 912.4 outside 0.0…50.0; 3 more records rejected")
        #expect(violation.rejected.map(\.index) == [17, 20, 25, 30])
        #expect(violation.description.hasPrefix("record gate violated (halt): record 17 "))
    }

    @Test func infiniteReadingFailsTheRecordGate() throws {
        var transformer = Self.transformer()
        var records = Self.next(10)
        records[3].vibration = .infinity
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected == [RecordRejection(index: 3, reason: .nonFinite(.vibration, value: .infinity))])
        #expect(violation.reason.hasSuffix("): vibration is inf (not finite)"))
    }

    @Test func badPumpIDFailsTheRecordGate() throws {
        var transformer = Self.transformer()
        var records = Self.next(10)
        records[0].pumpID = "P_01"
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected.map(\.reason) == [.badPumpID("P_01")])
        #expect(violation.reason.hasPrefix("record 0 (pump P_01 at "))
    }

    @Test func failureLabelSevenFailsTheRecordGate() throws {
        var transformer = Self.transformer()
        var records = Self.next(10)
        records[9].failure = 7
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected.map(\.reason) == [.badFailureLabel(7)])
        #expect(violation.reason.hasSuffix("failure label 7 not allowed"))
    }

    @Test func timestampMoreThanMaxFutureAfterNowFailsTheRecordGate() throws {
        var transformer = Self.transformer()
        let future = [TransformSamples.record(1, at: Self.now + 3601)]
        let violation = try #require(Self.violation(of: future, in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected.map(\.reason) == [.futureTimestamp(timestamp: Self.now + 3601, now: Self.now, maxFutureSeconds: 3600)])
        #expect(violation.reason == "record 0 (pump P_001 at 2026-11-29 01:00:01): timestamp 2026-11-29 01:00:01 more than 3600 s after now (2026-11-29 00:00:00)")
        // Within the allowed skew it passes; with max_future_s=0 one second ahead does not.
        #expect(Self.passed([TransformSamples.record(1, at: Self.now + 3600)], in: &transformer) != nil)
        var strict = Self.transformer(gates: try GatePolicy.parse(["record.max_future_s=0"]))
        #expect(Self.violation(of: [TransformSamples.record(1, at: Self.now + 1)], in: &strict)?.gate == .record)
    }

    /// The clock is a parameter: the same batch passes or fails by `now` alone, and `now` near
    /// the end of time does not overflow.
    @Test func futureIsJudgedAgainstTheGivenNowOnly() throws {
        var transformer = Self.transformer()
        let records = [TransformSamples.record(1, at: 2_000_000_000)]
        #expect(Self.violation(of: records, in: &transformer, now: 1_999_990_000)?.gate == .record)
        #expect(Self.passed(records, in: &transformer, now: .max) != nil)
    }

    @Test func nonIncreasingTimestampFailsTheRecordGateWithinAndAcrossBatches() throws {
        var transformer = Self.transformer()
        let lastOfP001 = Self.clean(1000)[990] // pump P_001's last accepted record
        var older = lastOfP001
        older.timestamp -= 3600
        let across = try #require(Self.violation(of: [older], in: &transformer))
        #expect(across.gate == .record)
        #expect(across.rejected.map(\.reason) == [.notIncreasing(pumpID: "P_001", timestamp: older.timestamp, last: lastOfP001.timestamp)])

        var records = Self.next(30)
        records[25].timestamp = records[5].timestamp - 3600 // P_006, older than its record 5 of this batch
        let within = try #require(Self.violation(of: records, in: &transformer))
        #expect(within.rejected.map(\.index) == [25])
        #expect(within.rejected.first?.reason.kind == .notIncreasing)
    }

    @Test func conflictingDuplicateFailsTheRecordGateWithinABatch() throws {
        var transformer = Self.transformer()
        var records = Self.next(20)
        var copy = records[4]
        copy.temperature += 1
        records.append(copy)
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected.map(\.index) == [20])
        #expect(violation.rejected.first?.reason.kind == .conflictingDuplicate)
        #expect(violation.reason.contains("again with other values (temperature "))
        #expect(violation.reason.hasSuffix("accepted earlier in this batch)"))
    }

    @Test func conflictingDuplicateFailsTheRecordGateAcrossBatches() throws {
        var transformer = Self.transformer()
        var copy = Self.clean(1000)[999] // pump P_010's last accepted record, from the previous batch
        copy.pressure += 0.5
        let violation = try #require(Self.violation(of: [copy] + Self.next(10), in: &transformer))
        #expect(violation.gate == .record)
        #expect(violation.rejected.map(\.index) == [0])
        #expect(violation.rejected.first?.reason.kind == .conflictingDuplicate)
        #expect(violation.reason.hasSuffix("accepted in an earlier batch)"))
    }

    @Test func exactDuplicateIsDroppedAndCountedNotAViolation() throws {
        var transformer = Self.transformer()
        let previous = Self.clean(1000)[999]
        var records = Self.next(200)
        records.insert(records[7], at: 50) // within the batch
        records.insert(previous, at: 0) // the pump's last record of the previous batch, re-sent
        let outcome = try #require(Self.passed(records, in: &transformer))
        #expect(outcome.dropped == [.duplicate: 2])
        #expect(outcome.output.records == Self.passedAlone(Self.next(200)))
        #expect(outcome.measurements.duplicates == 2 && outcome.measurements.missing == 0)
        #expect(outcome.measurements.dropRate == 0) // duplicates are not missing readings
    }

    /// The output of `records` processed after the standard history, for comparisons.
    static func passedAlone(_ records: [TelemetryRecord]) -> [TelemetryRecord] {
        var transformer = transformer()
        return passed(records, in: &transformer)?.output.records ?? []
    }

    // MARK: Batch gate

    @Test func excessiveDropRateFailsTheBatchGate() throws {
        var transformer = Self.transformer()
        var records = Self.next()
        for index in stride(from: 0, to: 310, by: 1) { records[index * 3].temperature = .nan }
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .batch && violation.action == .halt)
        #expect(violation.reason == "drop rate 0.31 > 0.10 (310 of 1000 records missing a reading)")
        #expect(violation.dropped == 310 && violation.rejected.isEmpty)
        #expect(violation.measurements?.missing == 310)
        // 10 % exactly is allowed.
        records = Self.next()
        for index in 0..<100 { records[index * 10].flowRate = .nan }
        #expect(Self.passed(records, in: &transformer)?.dropped == [.missing(.flowRate): 100])
    }

    @Test func failureLabelRateAboveTheBandFailsTheBatchGate() throws {
        var transformer = Self.transformer()
        var records = Self.next()
        for index in records.indices { records[index].failure = index < 620 ? 1 : 0 }
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .batch)
        #expect(violation.reason == "failure-label rate 0.62 outside 0.00…0.20 over 1000 records")
        #expect(violation.measurements?.failures == 620)
    }

    @Test func failureLabelRateBelowAConfiguredMinimumFailsTheBatchGate() throws {
        var transformer = Self.transformer(gates: try GatePolicy.parse(["batch.label_rate_min=0.01"]))
        var records = Self.next()
        for index in records.indices { records[index].failure = 0 }
        #expect(Self.violation(of: records, in: &transformer)?.reason == "failure-label rate 0.00 outside 0.01…0.20 over 1000 records")
    }

    @Test func driftOfOneReadingByThreeSigmaFailsTheBatchGate() throws {
        var transformer = Self.transformer(history: 5000)
        #expect(transformer.state.reference.isComplete)
        var records = Self.next(after: 5000)
        for index in records.indices { records[index].vibration += 3 * 0.3 }
        let violation = try #require(Self.violation(of: records, in: &transformer))
        #expect(violation.gate == .batch)
        #expect(violation.reason.hasPrefix("drift: vibration PSI "))
        #expect(violation.reason.hasSuffix(" > 0.25"))
        let psi = try #require(violation.measurements?.psi)
        #expect(psi[.vibration]! > 2)
        #expect(psi[.flowRate]! < 0.1 && psi[.pressure]! < 0.1 && psi[.temperature]! < 0.1)
        // The clean batch that follows passes, its drift judged.
        let clean = try #require(Self.passed(Self.next(after: 5000), in: &transformer))
        #expect(clean.measurements.psi.count == 4 && clean.measurements.notJudged.isEmpty)
    }

    /// Until the reference profile is complete drift is not judged, and the pass says so.
    @Test func driftIsNotJudgedUntilTheReferenceIsComplete() throws {
        var transformer = Self.transformer(history: 4000)
        var records = Self.next(after: 4000)
        for index in records.indices { records[index].vibration += 0.9 }
        let outcome = try #require(Self.passed(records, in: &transformer))
        #expect(outcome.measurements.psi.isEmpty)
        #expect(outcome.measurements.notJudged == ["drift not judged: reference profile has 4000 of 5000 records"])
        // That batch completed the profile (it passed every gate): the next one is judged.
        #expect(transformer.state.reference.isComplete && transformer.state.reference.recordCount == 5000)
    }

    @Test func batchesBelowMinRecordsAreNotJudgedForLabelRateOrDrift() throws {
        var transformer = Self.transformer(gates: try GatePolicy.parse(["batch.min_records=100"]), history: 5000)
        var records = Self.next(99, after: 5000)
        for index in records.indices {
            records[index].failure = 1
            records[index].vibration += 3
        }
        let outcome = try #require(Self.passed(records, in: &transformer))
        #expect(outcome.measurements.psi.isEmpty)
        #expect(outcome.measurements.notJudged == [
            "drop rate not judged: 99 records in, fewer than 100",
            "failure-label rate and drift not judged: 99 valid records, fewer than 100",
        ])
        // One record more and both are judged.
        var more = Self.next(100, after: 5099)
        for index in more.indices {
            more[index].failure = 1
            more[index].vibration += 3
        }
        let violation = try #require(Self.violation(of: more, in: &transformer))
        #expect(violation.reason.hasPrefix("failure-label rate 1.00 outside 0.00…0.20 over 100 records; drift: vibration PSI "))
    }

    @Test func quarantineAndContinueIsCarriedOnTheViolation() throws {
        let gates = try GatePolicy.parse(["record.on_violation=quarantine_and_continue", "batch.on_violation=quarantine_and_continue"])
        var transformer = Self.transformer(gates: gates)
        var poisoned = Self.next()
        poisoned[0].pressure = -1
        #expect(Self.violation(of: poisoned, in: &transformer)?.action == .quarantineAndContinue)
        var flipped = Self.next()
        for index in flipped.indices { flipped[index].failure = 1 }
        let batchViolation = try #require(Self.violation(of: flipped, in: &transformer))
        #expect(batchViolation.gate == .batch && batchViolation.action == .quarantineAndContinue)
        // The quarantined batches left no trace: the clean one is processed as if they never came.
        #expect(Self.passed(Self.next(), in: &transformer)?.output.records == Self.passedAlone(Self.next()))
    }
}
