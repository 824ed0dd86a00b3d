import Testing
import Pipeline
import Wire
import Workers

/// The drift reference (PSI, quantile bins) and `TransformerState` across restarts and old checkpoints.
extension GateTests {
    // MARK: PSI and the reference profile

    @Test func psiMatchesAHandComputedValue() {
        // a = (0.3, 0.7), e = (0.5, 0.5): (−0.2)·ln(0.6) + 0.2·ln(1.4) = 0.2·ln(7/3).
        let psi = FeatureBins.populationStabilityIndex(actual: [30, 70], expected: [50, 50])
        #expect(abs(psi - 0.169_459_572_077_440_75) < 1e-12)
        // An empty bin is floored at 1e-4: (1e-4 − 0.5)·ln(2e-4) + 0.5·ln(2).
        let floored = FeatureBins.populationStabilityIndex(actual: [0, 100], expected: [50, 50])
        #expect(abs(floored - 4.604_318_466_668_95) < 1e-12)
        #expect(FeatureBins.populationStabilityIndex(actual: [10, 20, 30], expected: [1, 2, 3]) == 0)
    }

    @Test func quantileBinsAreWellDefinedWithTies() {
        let even = FeatureBins(values: (1...10).map(Double.init), bins: 5)
        #expect(even.edges == [2, 4, 6, 8] && even.counts == [2, 2, 2, 2, 2])
        #expect(even.bin(of: 2) == 0 && even.bin(of: 2.5) == 1 && even.bin(of: 100) == 4 && even.bin(of: -100) == 0)
        // Six equal values: their quantile edges collapse into one, and no bin straddles the tie.
        let tied = FeatureBins(values: [1, 1, 1, 1, 1, 1, 2, 3, 4, 5], bins: 5)
        #expect(tied.edges == [1, 3] && tied.counts == [6, 2, 2])
        // A constant reading: one bin; an edge at the maximum would leave the last bin empty.
        #expect(FeatureBins(values: [7, 7, 7], bins: 10).edges.isEmpty)
        #expect(FeatureBins(values: [0, 0, 1, 1], bins: 2).edges == [0])
        // PSI of the reference against itself is 0.
        #expect(tied.populationStabilityIndex(of: [1, 1, 1, 1, 1, 1, 2, 3, 4, 5]) == 0)
    }

    /// The simulator's clean data sits well inside the default thresholds.
    @Test func cleanSimulatorBatchesPassTheDefaultsComfortably() throws {
        var transformer = Self.transformer(history: 5000)
        var largest = 0.0
        var labelRates: [Double] = []
        for start in stride(from: 5000, to: 45_000, by: 1000) {
            let outcome = try #require(Self.passed(Self.clean(1000, from: start), in: &transformer))
            largest = max(largest, outcome.measurements.largestPSI!.psi)
            labelRates.append(outcome.measurements.labelRate!)
        }
        #expect(largest < 0.1)
        #expect(labelRates.allSatisfy { (0.02...0.08).contains($0) })
    }

    // MARK: State

    /// Batches 1…n in one transformer equal 1…k, encode, decode into a new one, k+1…n — for
    /// every k, across the moment the profile completes, with quarantined batches in between.
    @Test func restartAtAnyBatchGivesIdenticalVerdictsAndOutputs() throws {
        let gates = try GatePolicy.parse(["batch.reference_records=600", "batch.psi_bins=8", "batch.min_records=100"])
        var batches: [RecordBatch] = []
        var cursor = 0
        func take(_ count: Int, _ change: (inout [TelemetryRecord]) -> Void = { _ in }) {
            var records = Self.clean(count, from: cursor)
            change(&records)
            batches.append(Self.batch(records, id: UInt64(batches.count + 1)))
            cursor += count
        }
        take(250)
        take(250) { $0[3].pressure = 51 } // quarantined before the profile is complete
        take(250) { $0[40].temperature = .nan; $0.insert($0[10], at: 20) }
        take(250) // completes the profile (600 of 750 accepted records)
        take(250) { records in for index in records.indices { records[index].temperature += 15 } } // drift
        take(250)
        take(80) { records in for index in records.indices { records[index].failure = 1 } } // too small to judge
        take(250) { records in records.insert(records[0], at: 1) }
        take(250) { $0[249].failure = 3 }
        take(250)

        var uninterrupted = GatedTransformer(rules: ValidationRules(), gates: gates)
        let expected = batches.map { uninterrupted.process($0, now: Self.now) }
        let verdicts = expected.map { outcome -> String in
            switch outcome {
            case .passed: "passed"
            case .violated(let violation): "\(violation.gate)"
            }
        }
        #expect(verdicts == ["passed", "record", "passed", "passed", "batch", "passed", "passed", "passed", "record", "passed"])
        #expect(uninterrupted.state.reference.isComplete)

        for k in 0...batches.count {
            var first = GatedTransformer(rules: ValidationRules(), gates: gates)
            var outcomes = batches[..<k].map { first.process($0, now: Self.now) }
            let saved = first.state.encoded()
            let restored = try TransformerState(decoding: saved)
            #expect(restored == first.state && restored.encoded() == saved)
            var resumed = GatedTransformer(rules: ValidationRules(), gates: gates, state: restored)
            outcomes += batches[k...].map { resumed.process($0, now: Self.now) }
            #expect(outcomes == expected, "restart after batch \(k)")
            #expect(resumed.state == uninterrupted.state && resumed.state.encoded() == uninterrupted.state.encoded())
        }
    }

    /// A checkpoint written before the profile existed (`RollingWindows.encoded()`) resumes as
    /// those windows with an empty profile.
    @Test func oldWindowOnlyBlobDecodesAsWindowsAndAnEmptyProfile() throws {
        var transformer = Self.transformer(history: 2000)
        let oldBlob = Self.formatOne(transformer.state.windows)
        #expect(oldBlob.first == 1)
        let state = try TransformerState(decoding: oldBlob)
        #expect(state.windows == (try RollingWindows(decoding: oldBlob)))
        #expect(state == TransformerState(windows: try RollingWindows(decoding: oldBlob)))
        #expect(!state.reference.isComplete && state.reference.recordCount == 0)
        // Resumed from it, the timestamps of the last batch still count: a repeat is a duplicate.
        var resumed = GatedTransformer(rules: ValidationRules(), gates: .default, state: state)
        let outcome = try #require(Self.passed([Self.clean(2000)[1999]] + Self.next(after: 2000), in: &resumed))
        #expect(outcome.dropped == [.duplicate: 1])
        #expect(outcome.measurements.notJudged == ["drift not judged: reference profile has 0 of 5000 records"])
        _ = Self.passed(Self.next(after: 2000), in: &transformer)
    }

    /// `windows` as format 1 wrote them, before the last fields were kept: format 2 without its
    /// last section (every pump's fields known: 1 + 17 bytes each).
    static func formatOne(_ windows: RollingWindows) -> [UInt8] {
        let current = windows.encoded()
        var bytes = Array(current.dropLast(windows.sortedPumpIDs.count * 18))
        bytes[0] = RollingWindows.formatWithoutLastFields
        return bytes
    }

    @Test func encodingRoundTripsBuildingAndCompleteProfiles() throws {
        for history in [0, 1000, 5000, 6000] {
            let state = Self.transformer(history: history).state
            let bytes = state.encoded()
            #expect(bytes.first == TransformerState.encodingFormat)
            let decoded = try TransformerState(decoding: bytes)
            #expect(decoded == state && decoded.encoded() == bytes)
            #expect(decoded.reference.isComplete == (history >= 5000))
        }
    }

    @Test func corruptStateThrowsOneLine() {
        let bytes = Self.transformer(history: 5000).state.encoded()
        for length in [0, 1, 4, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: TransformError.self) { try TransformerState(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: TransformError.self) { try TransformerState(decoding: bytes + [0]) }
        do {
            _ = try TransformerState(decoding: [3, 0, 0])
            Issue.record("format 3 decoded")
        } catch {
            #expect(error.description == "transformer state: unknown format 3 (expected 1 or 2) (at byte 1 of 3)")
        }
        // A building profile claiming far more records than the bytes hold is refused before allocating.
        let empty = TransformerState().encoded()
        var hostile = Array(empty.dropLast(4))
        hostile += [0xA0, 0x86, 0x01, 0x00] // 100,000 records, no values
        #expect(throws: TransformError.self) { try TransformerState(decoding: hostile) }
    }
}
