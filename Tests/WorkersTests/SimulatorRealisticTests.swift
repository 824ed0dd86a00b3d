import Testing
import Wire
@testable import Workers

/// The realistic profile: deterministic, about 6 % failures, wear that builds up, bounded drift,
/// missing readings sent as null.
struct SimulatorRealisticTests {
    @Test func theSameSeedGivesTheSameRecordsAndAnotherSeedOthers() {
        let first = TelemetryGenerator(seed: 42, count: 5_000, profile: .realistic)
        let second = TelemetryGenerator(seed: 42, count: 5_000, profile: .realistic)
        #expect(first.page(cursor: 1_000, limit: 500) == second.page(cursor: 1_000, limit: 500))
        #expect(first.page(cursor: 0, limit: 100) != TelemetryGenerator(seed: 43, count: 5_000, profile: .realistic).page(cursor: 0, limit: 100))
        // A page stands alone: the same record whether or not the ones before it were generated.
        #expect(first.record(at: 4_321) == TelemetryGenerator(seed: 42, count: 5_000, profile: .realistic).page(cursor: 4_321, limit: 1)[0])
        // The default profile is unchanged.
        #expect(TelemetryGenerator(seed: 42, count: 10).record(at: 3) == TelemetryGenerator(seed: 42, count: 10, profile: .original).record(at: 3))
        #expect(first.record(at: 3) != TelemetryGenerator(seed: 42, count: 10).record(at: 3))
    }

    @Test func failuresAreAboutSixPercentAndFollowWear() {
        let generator = TelemetryGenerator(seed: 42, count: 200_000, profile: .realistic)
        var failures = 0, missing = 0
        var highWear = (failures: 0, count: 0), lowWear = (failures: 0, count: 0)
        for index in 0..<generator.count {
            let (record, absent) = generator.realisticRecord(at: index)
            failures += Int(record.failure)
            if absent != nil { missing += 1 }
            let wear = TelemetryGenerator.wear(seed: 42, pump: index % 10, hour: Double(index / 10))
            if wear > 0.8 { highWear.count += 1; highWear.failures += Int(record.failure) }
            if wear < 0.2 { lowWear.count += 1; lowWear.failures += Int(record.failure) }
        }
        let rate = Double(failures) / 200_000
        #expect(rate > 0.05 && rate < 0.08, "failure rate \(rate)")
        let missingRate = Double(missing) / 200_000
        #expect(missingRate > 0.003 && missingRate < 0.007, "missing rate \(missingRate)")
        // Worn pumps fail far more often, yet not always: labels are not separable from wear.
        let high = Double(highWear.failures) / Double(highWear.count), low = Double(lowWear.failures) / Double(lowWear.count)
        #expect(high > 4 * low && high < 0.5, "wear > 0.8: \(high), wear < 0.2: \(low)")
    }

    @Test func wearBuildsUpOverACycleAndDriftStaysBounded() {
        // Within a cycle wear only grows; it drops at maintenance.
        let wears = (0..<720).map { TelemetryGenerator.wear(seed: 42, pump: 3, hour: Double($0)) }
        let drops = zip(wears, wears.dropFirst()).filter { $1 < $0 }.count
        #expect(drops == 1, "one maintenance in 30 days, got \(drops) drops")
        #expect(wears.allSatisfy { $0 >= 0 && $0 < 1.5 })
        for hour in stride(from: 0.0, to: 100_000, by: 997) {
            let drift = TelemetryGenerator.drift(seed: 42, pump: 1, reading: .temperature, hour: hour, amplitude: 1.5, period: 3100)
            #expect(abs(drift) <= 1.5)
        }
    }

    @Test func aMissingReadingIsSentAsNull() {
        let generator = TelemetryGenerator(seed: 42, count: 5_000, profile: .realistic)
        let index = try! #require((0..<5_000).first { generator.realisticRecord(at: $0).missing != nil })
        let served = generator.servedRecord(at: index, faults: SimulatorFaults())
        #expect(served.missing != nil && served.poison == nil)
        let body = String(decoding: TelemetryJSON.page(generator, cursor: index, limit: 1, faults: SimulatorFaults(), available: nil),
                          as: UTF8.self)
        #expect(body.contains("null"), "\(body)")
    }

    @Test func theProfileParsesByName() {
        #expect(SimulatorProfile(parsing: "realistic") == .realistic)
        #expect(SimulatorProfile(parsing: "original") == .original)
        #expect(SimulatorProfile(parsing: "Realistic") == nil)
    }
}
