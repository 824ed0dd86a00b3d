import Testing
import Pipeline
import Wire
import Workers

@Suite struct TransformRollingWindowsTests {
    // MARK: pandas

    /// Bit-for-bit equality with pandas' own output, records fed in source order through the
    /// transformer in batches of 7 (so windows cross batch boundaries), missing rows dropped.
    @Test func meansEqualPandasBitForBit() {
        let rows = TransformPandasFixture.rows
        #expect(rows.count == 200)
        var transformer = GatedTransformer(rules: ValidationRules(), gates: .default)
        var produced: [TelemetryRecord] = []
        var droppedCount = 0
        for batch in TransformSamples.batches(rows.map(\.record), size: 7) {
            guard case .passed(let outcome) = transformer.process(batch, now: 1_800_000_000) else {
                Issue.record("batch \(batch.batchID) of the pandas fixture was quarantined")
                return
            }
            droppedCount += outcome.droppedCount
            produced += outcome.output.records
        }
        let expected = rows.filter { $0.vibrationMean != nil }
        #expect(droppedCount == 4)
        #expect(produced.count == expected.count)
        for (record, row) in zip(produced, expected) {
            #expect(record.timestamp == row.record.timestamp && record.pumpID == row.record.pumpID)
            #expect(record.vibrationRollingMean?.bitPattern == row.vibrationMean?.bitPattern,
                    "\(record.pumpID) @\(record.timestamp) vibration: \(record.vibrationRollingMean!) vs pandas \(row.vibrationMean!)")
            #expect(record.pressureRollingMean?.bitPattern == row.pressureMean?.bitPattern,
                    "\(record.pumpID) @\(record.timestamp) pressure: \(record.pressureRollingMean!) vs pandas \(row.pressureMean!)")
        }
    }

    /// The fixture would catch a naive mean: a good share of its means differ from plain
    /// `(a + b + c) / 3` in the last bits, so the test above really checks pandas' numerics.
    @Test func fixtureDistinguishesKahanFromPlainSummation() {
        let means = bruteForceMeans(TransformPandasFixture.rows.map(\.record).filter { !$0.vibration.isNaN && !$0.pressure.isNaN && !$0.flowRate.isNaN && !$0.temperature.isNaN })
        let rows = TransformPandasFixture.rows.filter { $0.vibrationMean != nil }
        let differing = zip(means, rows).filter { $0.0.vibration != $0.1.vibrationMean! || $0.0.pressure != $0.1.pressureMean! }
        #expect(differing.count > 20)
    }

    @Test func runOfEqualValuesGivesThatValueExactly() {
        var windows = RollingWindows()
        for (offset, value) in [0.3, 0.1, 0.1, 0.1, 0.1].enumerated() {
            var record = TransformSamples.record(at: Int64(offset), vibration: value)
            windows.apply(to: &record)
            if offset >= 3 { #expect(record.vibrationRollingMean == 0.1) }
        }
    }

    @Test func partialWindowsAtTheStart() {
        var windows = RollingWindows()
        var means: [Double] = []
        for (offset, value) in [1.0, 2.0, 6.0, 10.0].enumerated() {
            var record = TransformSamples.record(at: Int64(offset), pressure: value)
            windows.apply(to: &record)
            means.append(record.pressureRollingMean!)
        }
        #expect(means == [1, 1.5, 3, 6])
    }

    // MARK: brute force

    /// Against an independent reference: each window recomputed from all earlier records of
    /// the pump, plain summation, within 1e-12 relative to the largest value the pump has
    /// had so far. Not relative to the mean itself: pandas' running sum (which we match)
    /// carries an absolute error of the order of an ulp of the largest value it ever held,
    /// so after a reading near 100 a window of readings near 0.001 is off by ~1e-14
    /// absolute, ~1e-11 relative. That is pandas' behaviour, kept on purpose.
    @Test func meansAgreeWithBruteForceReference() {
        let records = TransformSamples.sequence(count: 3000, pumps: 7, seed: 42)
        var windows = RollingWindows()
        let reference = bruteForceMeans(records)
        var largest: [String: (vibration: Double, pressure: Double)] = [:]
        for (record, expected) in zip(records, reference) {
            var record = record
            let seen = largest[record.pumpID, default: (0, 0)]
            let scale = (max(seen.vibration, abs(record.vibration)), max(seen.pressure, abs(record.pressure)))
            largest[record.pumpID] = scale
            windows.apply(to: &record)
            #expect(isClose(record.vibrationRollingMean!, expected.vibration, scale: scale.0), "vibration \(record.pumpID) @\(record.timestamp)")
            #expect(isClose(record.pressureRollingMean!, expected.pressure, scale: scale.1), "pressure \(record.pumpID) @\(record.timestamp)")
        }
    }

    private func bruteForceMeans(_ records: [TelemetryRecord]) -> [(vibration: Double, pressure: Double)] {
        records.indices.map { index in
            let record = records[index]
            let history = records[...index].filter { $0.pumpID == record.pumpID }.suffix(3)
            var vibration = 0.0, pressure = 0.0
            for earlier in history {
                vibration += earlier.vibration
                pressure += earlier.pressure
            }
            return (vibration / Double(history.count), pressure / Double(history.count))
        }
    }

    private func isClose(_ a: Double, _ b: Double, scale: Double) -> Bool {
        a == b || abs(a - b) <= 1e-12 * max(abs(a), abs(b), scale)
    }

    // MARK: encoding

    @Test func encodingRoundTripsExactly() throws {
        let windows = fedWindows(seed: 7)
        let decoded = try RollingWindows(decoding: windows.encoded())
        #expect(decoded == windows)
        #expect(decoded.encoded() == windows.encoded())
        #expect(try RollingWindows(decoding: RollingWindows().encoded()) == RollingWindows())
    }

    /// Format 1 (before the last fields were kept) still decodes; its pumps' last fields are
    /// unknown, and written back as unknown, until each pump's next record.
    @Test func formatOneDecodesWithTheLastFieldsUnknown() throws {
        let windows = fedWindows(seed: 7)
        let current = windows.encoded()
        #expect(current.first == RollingWindows.encodingFormat && RollingWindows.encodingFormat == 2)
        var formatOne = Array(current.dropLast(5 * 18))
        formatOne[0] = RollingWindows.formatWithoutLastFields
        let decoded = try RollingWindows(decoding: formatOne)
        #expect(decoded != windows)
        #expect(decoded.encoded() == [2] + formatOne.dropFirst() + Array(repeating: 0, count: 5))
        #expect(try RollingWindows(decoding: decoded.encoded()) == decoded)
        // The next record of P_001 makes its fields known again.
        var next = TransformSamples.record(1, at: Int64.max / 2, vibration: 1)
        var resumed = decoded
        resumed.apply(to: &next)
        let tail = Array(resumed.encoded().suffix(18 + 4))
        #expect(tail.first == 1 && tail.suffix(4) == [0, 0, 0, 0])
    }

    @Test func encodingIsIndependentOfTheOrderPumpsWereSeen() {
        var first = RollingWindows(), second = RollingWindows()
        var a = TransformSamples.record(1, at: 10, vibration: 1), b = TransformSamples.record(2, at: 10, vibration: 2)
        var a2 = a, b2 = b
        first.apply(to: &a); first.apply(to: &b)
        second.apply(to: &b2); second.apply(to: &a2)
        #expect(first == second)
        #expect(first.encoded() == second.encoded())
        #expect(first.sortedPumpIDs == ["P_001", "P_002"])
        #expect(first.lastTimestamp(of: "P_002") == 10 && first.lastTimestamp(of: "P_003") == nil)
    }

    @Test func everyTruncationThrows() {
        let bytes = fedWindows(seed: 3).encoded()
        for length in 0..<bytes.count {
            #expect(throws: TransformError.self) { try RollingWindows(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: TransformError.self) { try RollingWindows(decoding: bytes + [0]) }
    }

    @Test func hostileInputThrowsOneLine() {
        let valid = fedWindows(seed: 5).encoded()
        var cases: [(String, [UInt8])] = []
        cases.append(("unknown format 3", patched(valid, at: 0, [3])))
        cases.append(("window width 4", patched(valid, at: 1, [4])))
        cases.append(("claims 4294967295 pumps", patched(valid, at: 2, [0xFF, 0xFF, 0xFF, 0xFF])))
        // First pump: id length at 6, id "P_001" at 7..<12, timestamp 12..<20, values held at 20.
        cases.append(("holds 0 values", patched(valid, at: 20, [0])))
        cases.append(("holds 9 values", patched(valid, at: 20, [9])))
        cases.append(("empty id", patched(valid, at: 6, [0])))
        cases.append(("not valid UTF-8", patched(valid, at: 7, [0xFF])))
        cases.append(("not finite (-nan", patched(valid, at: 21, Array(repeating: 0xFF, count: 8))))
        cases.append(("not finite (inf)", patched(valid, at: 21, withUnsafeBytes(of: Double.infinity.bitPattern.littleEndian, Array.init))))
        cases.append(("not after 'P_001'", duplicatedFirstPump(valid)))
        // The last fields, after the 5 entries: per pump 1 (known), flow rate, temperature, label.
        let lastFields = valid.count - 5 * 18
        cases.append(("pump 'P_001': last fields marked 2", patched(valid, at: lastFields, [2])))
        cases.append(("the last flow rate of pump 'P_001' is not finite",
                      patched(valid, at: lastFields + 1, withUnsafeBytes(of: Double.nan.bitPattern.littleEndian, Array.init))))
        cases.append(("the last temperature of pump 'P_002' is not finite",
                      patched(valid, at: lastFields + 18 + 9, withUnsafeBytes(of: Double.infinity.bitPattern.littleEndian, Array.init))))
        for (expected, bytes) in cases {
            do {
                _ = try RollingWindows(decoding: bytes)
                Issue.record("accepted: \(expected)")
            } catch {
                #expect(error.description.contains(expected), "\(error)")
                #expect(error.description.hasPrefix("rolling window state: "))
                #expect(!error.description.contains("\n"))
            }
        }
    }

    /// Fed windows whose first pump (P_001) holds 3 values.
    private func fedWindows(seed: UInt64) -> RollingWindows {
        var windows = RollingWindows()
        for var record in TransformSamples.sequence(count: 200, pumps: 5, seed: seed) {
            windows.apply(to: &record)
        }
        return windows
    }

    private func patched(_ bytes: [UInt8], at offset: Int, _ replacement: [UInt8]) -> [UInt8] {
        var bytes = bytes
        bytes.replaceSubrange(offset..<offset + replacement.count, with: replacement)
        return bytes
    }

    /// The state with its first pump entry repeated (count raised to match).
    private func duplicatedFirstPump(_ bytes: [UInt8]) -> [UInt8] {
        let entrySize = 1 + 5 + 8 + 1 + 2 * (3 + 3) * 8
        var copy = Array(bytes[0..<6 + entrySize]) + Array(bytes[6...])
        let count = UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }) + 1
        withUnsafeBytes(of: count.littleEndian) { copy.replaceSubrange(2..<6, with: $0) }
        return copy
    }
}
