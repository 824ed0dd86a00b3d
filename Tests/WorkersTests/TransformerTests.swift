import Testing
import Pipeline
import Wire
import Workers

/// The transformation itself (means, order, counts, restarts) through `GatedTransformer`; the
/// gates' own rules are in `GateTests`.
@Suite struct TransformerTests {
    /// Later than every timestamp used here.
    static let now: Int64 = 1_800_000_000

    static func passed(_ outcome: GateOutcome, sourceLocation: SourceLocation = #_sourceLocation) throws -> TransformOutcome {
        guard case .passed(let passed) = outcome else {
            Issue.record("expected a pass, got \(outcome)", sourceLocation: sourceLocation)
            throw GateExpectationFailed()
        }
        return passed
    }

    struct GateExpectationFailed: Error {}

    @Test func outputKeepsBatchIdentityAndInputOrderWithMeansSet() throws {
        var transformer = GatedTransformer(rules: ValidationRules(), gates: .default)
        let records = [
            TransformSamples.record(2, at: 100, pressure: 4, vibration: 1),
            TransformSamples.record(1, at: 50, pressure: 6, vibration: 3),
            TransformSamples.record(2, at: 200, pressure: 8, vibration: 2),
        ]
        let outcome = try Self.passed(transformer.process(RecordBatch(batchID: 9, cursor: "page-3", records: records), now: Self.now))
        #expect(outcome.output.batchID == 9 && outcome.output.position == SourcePosition(cursor: "page-3"))
        #expect(outcome.output.records.map(\.timestamp) == [100, 50, 200])
        #expect(outcome.output.records.map(\.vibrationRollingMean) == [1, 3, 1.5])
        #expect(outcome.output.records.map(\.pressureRollingMean) == [4, 6, 6])
        #expect(outcome.dropped.isEmpty && outcome.rejected.isEmpty)
    }

    /// One rejected record quarantines the whole batch: every rejection is listed, nothing
    /// enters the windows; without the rejected records the rest passes, drops counted.
    @Test func rejectedRecordsQuarantineTheWholeBatchAndDropsAreCounted() throws {
        var transformer = GatedTransformer(rules: ValidationRules(), gates: .default)
        let records = [
            TransformSamples.record(1, at: 10, vibration: 1),
            TransformSamples.record(1, at: 20, vibration: .nan),
            TransformSamples.record(1, at: 30, vibration: 1000),
            TransformSamples.record(1, at: 40, failure: 2),
            TransformSamples.record(1, at: 10, vibration: 50),
            TransformSamples.record(1, at: 5, vibration: 50),
            TransformSamples.record(1, at: 50, temperature: .nan),
            TransformSamples.record(1, at: 60, vibration: 3),
        ]
        guard case .violated(let violation) = transformer.process(RecordBatch(batchID: 1, cursor: "", records: records), now: Self.now) else {
            Issue.record("a batch with rejected records passed")
            return
        }
        #expect(violation.gate == .record && violation.action == .halt)
        #expect(violation.dropped == 2)
        #expect(violation.rejected.map(\.index) == [2, 3, 4, 5])
        #expect(violation.rejected.map(\.reason) == [
            .outOfRange(.vibration, value: 1000, range: 0...100),
            .badFailureLabel(2),
            .conflictingDuplicate(pumpID: "P_001", timestamp: 10, difference: "vibration 50.0 vs 1.0 accepted earlier in this batch"),
            .notIncreasing(pumpID: "P_001", timestamp: 5, last: 10),
        ])
        #expect(transformer.state == TransformerState())
        #expect(RejectReason.notIncreasing(pumpID: "P_001", timestamp: 5, last: 10).description
            == "pump P_001: timestamp 5 not after the last accepted 10")

        let clean = records.enumerated().filter { ![2, 3, 4, 5].contains($0.offset) }.map(\.element)
        let outcome = try Self.passed(transformer.process(RecordBatch(batchID: 1, cursor: "", records: clean), now: Self.now))
        #expect(outcome.output.records.map(\.vibrationRollingMean) == [1, 2])
        #expect(outcome.dropped == [.missing(.vibration): 1, .missing(.temperature): 1])
        #expect(outcome.droppedCount == 2 && outcome.rejected.isEmpty)
        #expect(transformer.state.windows.lastTimestamp(of: "P_001") == 60)
    }

    @Test func timestampOrderIsCheckedAcrossBatches() throws {
        var transformer = GatedTransformer(rules: ValidationRules(), gates: .default)
        _ = try Self.passed(transformer.process(RecordBatch(batchID: 1, cursor: "", records: [TransformSamples.record(3, at: 100)]), now: Self.now))
        let before = transformer.state
        guard case .violated(let violation) = transformer.process(
            RecordBatch(batchID: 2, cursor: "", records: [TransformSamples.record(3, at: 99)]), now: Self.now) else {
            Issue.record("an older timestamp passed")
            return
        }
        #expect(violation.rejected.map(\.reason) == [.notIncreasing(pumpID: "P_003", timestamp: 99, last: 100)])
        #expect(transformer.state == before)
    }

    /// The restart property: for every k, processing 1…k, persisting the state, and continuing
    /// k+1…n in a fresh transformer gives exactly what one uninterrupted transformer gives,
    /// verdicts, outputs and final state alike — quarantined batches included.
    @Test func restartAtAnyBatchGivesIdenticalOutcomes() throws {
        let records = TransformSamples.sequence(count: 1200, pumps: 6, seed: 2024, invalidEvery: 37)
        let batches = TransformSamples.batches(records, size: 25)
        var uninterrupted = GatedTransformer(rules: ValidationRules(), gates: .default)
        let expected = batches.map { uninterrupted.process($0, now: Self.now) }
        #expect(expected.contains { if case .violated = $0 { true } else { false } })
        #expect(expected.contains { if case .passed(let outcome) = $0 { outcome.droppedCount > 0 } else { false } })

        for k in 0...batches.count {
            var first = GatedTransformer(rules: ValidationRules(), gates: .default)
            var outcomes = batches[..<k].map { first.process($0, now: Self.now) }
            let saved = first.state.encoded()
            var resumed = GatedTransformer(rules: ValidationRules(), gates: .default, state: try TransformerState(decoding: saved))
            outcomes += batches[k...].map { resumed.process($0, now: Self.now) }
            #expect(outcomes == expected, "restart after batch \(k)")
            #expect(resumed.state == uninterrupted.state)
        }
    }
}
