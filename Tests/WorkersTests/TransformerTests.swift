import Testing
import Wire
import Workers

@Suite struct TransformerTests {
    @Test func outputKeepsBatchIdentityAndInputOrderWithMeansSet() {
        var transformer = Transformer(rules: ValidationRules())
        let records = [
            TransformSamples.record(2, at: 100, pressure: 4, vibration: 1),
            TransformSamples.record(1, at: 50, pressure: 6, vibration: 3),
            TransformSamples.record(2, at: 200, pressure: 8, vibration: 2),
        ]
        let outcome = transformer.process(RecordBatch(batchID: 9, cursor: "page-3", records: records))
        #expect(outcome.output.batchID == 9 && outcome.output.cursor == "page-3")
        #expect(outcome.output.records.map(\.timestamp) == [100, 50, 200])
        #expect(outcome.output.records.map(\.vibrationRollingMean) == [1, 3, 1.5])
        #expect(outcome.output.records.map(\.pressureRollingMean) == [4, 6, 6])
        #expect(outcome.dropped.isEmpty && outcome.rejected.isEmpty)
    }

    @Test func droppedAndRejectedAreCountedAndStayOutOfTheWindows() {
        var transformer = Transformer(rules: ValidationRules())
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
        let outcome = transformer.process(RecordBatch(batchID: 1, cursor: "", records: records))
        #expect(outcome.output.records.map(\.vibrationRollingMean) == [1, 2])
        #expect(outcome.dropped == [.missing(.vibration): 1, .missing(.temperature): 1])
        #expect(outcome.rejected.map(\.index) == [2, 3, 4, 5])
        #expect(outcome.rejected.map(\.reason) == [
            .outOfRange(.vibration, value: 1000, range: 0...100),
            .badFailureLabel(2),
            .notIncreasing(pumpID: "P_001", timestamp: 10, last: 10),
            .notIncreasing(pumpID: "P_001", timestamp: 5, last: 10),
        ])
        #expect(outcome.rejectedCounts == [.outOfRange: 1, .badFailureLabel: 1, .notIncreasing: 2])
        #expect(transformer.windows.lastTimestamp(of: "P_001") == 60)
        #expect(RejectReason.notIncreasing(pumpID: "P_001", timestamp: 5, last: 10).description
            == "pump P_001: timestamp 5 not after the last accepted 10")
    }

    @Test func timestampOrderIsCheckedAcrossBatches() {
        var transformer = Transformer(rules: ValidationRules())
        _ = transformer.process(RecordBatch(batchID: 1, cursor: "", records: [TransformSamples.record(3, at: 100)]))
        let outcome = transformer.process(RecordBatch(batchID: 2, cursor: "", records: [TransformSamples.record(3, at: 100)]))
        #expect(outcome.output.records.isEmpty)
        #expect(outcome.rejectedCounts == [.notIncreasing: 1])
    }

    /// The restart property: for every k, processing 1…k, persisting the windows, and
    /// continuing k+1…n in a fresh transformer gives exactly what one uninterrupted
    /// transformer gives, outputs and final state alike.
    @Test func restartAtAnyBatchGivesIdenticalOutputs() throws {
        let records = TransformSamples.sequence(count: 1200, pumps: 6, seed: 2024, invalidEvery: 17)
        let batches = TransformSamples.batches(records, size: 25)
        var uninterrupted = Transformer(rules: ValidationRules())
        let expected = batches.map { uninterrupted.process($0) }
        #expect(expected.contains { !$0.rejected.isEmpty } && expected.contains { !$0.dropped.isEmpty })

        for k in 0...batches.count {
            var first = Transformer(rules: ValidationRules())
            var outcomes = batches[..<k].map { first.process($0) }
            let saved = first.windows.encoded()
            var resumed = Transformer(rules: ValidationRules(), windows: try RollingWindows(decoding: saved))
            outcomes += batches[k...].map { resumed.process($0) }
            #expect(outcomes.map(\.output) == expected.map(\.output), "restart after batch \(k)")
            #expect(outcomes.map(\.dropped) == expected.map(\.dropped), "restart after batch \(k)")
            #expect(outcomes.map { $0.rejected.map(\.index) } == expected.map { $0.rejected.map(\.index) })
            #expect(outcomes.map { $0.rejected.map(\.reason) } == expected.map { $0.rejected.map(\.reason) })
            #expect(resumed.windows == uninterrupted.windows)
        }
    }
}
