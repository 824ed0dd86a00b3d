import PortableRandom
import Foundation
import Testing
import Pipeline
import Wire
@testable import Workers

@Suite struct SimulatorGeneratorTests {
    @Test func sameSeedGivesIdenticalRecords() {
        let first = TelemetryGenerator(seed: 42, count: 5000)
        let second = TelemetryGenerator(seed: 42, count: 5000)
        #expect(first.page(cursor: 0, limit: 5000) == second.page(cursor: 0, limit: 5000))
    }

    @Test func differentSeedGivesDifferentRecords() {
        let first = TelemetryGenerator(seed: 42, count: 1000).page(cursor: 0, limit: 1000)
        let second = TelemetryGenerator(seed: 43, count: 1000).page(cursor: 0, limit: 1000)
        let identical = zip(first, second).filter { $0.flowRate == $1.flowRate && $0.pressure == $1.pressure }.count
        #expect(identical < 10)
    }

    @Test func anyRecordIsComputedWithoutTheOnesBefore() {
        let generator = TelemetryGenerator(seed: 7, count: 1_000_000)
        let late = generator.page(cursor: 999_990, limit: 50)
        #expect(late.count == 10)
        #expect(late[3] == generator.record(at: 999_993))
        #expect(generator.page(cursor: 1_000_000, limit: 10).isEmpty)
    }

    /// Pinned values: a change to the generator's arithmetic changes every downstream run.
    @Test func firstRecordsArePinnedForSeed42() {
        let generator = TelemetryGenerator(seed: 42, count: 20)
        let first = generator.record(at: 0)
        #expect(first.timestamp == 946_684_800)
        #expect(first.pumpID == "P_001")
        #expect(generator.record(at: 9).pumpID == "P_010")
        #expect(generator.record(at: 10).pumpID == "P_001")
        #expect(generator.record(at: 10).timestamp == 946_684_800 + 3600)
        #expect(generator.record(at: 19).timestamp == 946_684_800 + 3600)
        #expect(first == TelemetryRecord(
            timestamp: 946_684_800, pumpID: "P_001",
            flowRate: 510.24, pressure: 4.77, vibration: 1.89, temperature: 51.47, failure: 0))
    }

    /// The cap keeps every generated timestamp in the past (before 2023), however the source grows.
    @Test func lastPossibleRecordIsStampedIn2022() {
        let generator = TelemetryGenerator(seed: 42, count: TelemetryGenerator.maximumCount)
        #expect(TelemetryGenerator.maximumCount == 2_000_000)
        #expect(generator.record(at: generator.count - 1).timestamp == 1_666_681_200) // 2022-10-25 07:00:00Z
        #expect(generator.page(cursor: generator.count, limit: 10).isEmpty)
    }

    @Test func pumpAndTimestampAreUniqueOver100kRecords() {
        let generator = TelemetryGenerator(seed: 42, count: 100_000)
        var seen = Set<String>()
        for index in 0..<generator.count {
            let record = generator.record(at: index)
            seen.insert("\(record.pumpID)@\(record.timestamp)")
        }
        #expect(seen.count == 100_000)
        let pumps = Set((0..<20).map { generator.record(at: $0).pumpID })
        #expect(pumps == Set((1...10).map { String(format: "P_%03d", $0) }))
    }

    @Test func distributionsMatchTheOriginalOver100kRecords() {
        let generator = TelemetryGenerator(seed: 42, count: 100_000)
        var healthy = Moments()
        var failing = Moments()
        var flow = Moments()
        for index in 0..<generator.count {
            let record = generator.record(at: index)
            #expect(record.failure <= 1)
            flow.add(record.flowRate, 0, 0, 0)
            if record.failure == 1 {
                failing.add(record.flowRate, record.pressure, record.vibration, record.temperature)
            } else {
                healthy.add(record.flowRate, record.pressure, record.vibration, record.temperature)
            }
        }
        let failureRate = Double(failing.count) / Double(generator.count)
        #expect(abs(failureRate - 0.05) < 0.004, "failure rate \(failureRate)")
        #expect(abs(flow.mean.0 - 500) < 1, "flow mean \(flow.mean.0)")
        #expect(abs(flow.deviation.0 - 50) < 1, "flow deviation \(flow.deviation.0)")
        #expect(abs(healthy.mean.1 - 5) < 0.02, "pressure mean \(healthy.mean.1)")
        #expect(abs(healthy.deviation.1 - 0.5) < 0.02, "pressure deviation \(healthy.deviation.1)")
        #expect(abs(healthy.mean.2 - 2) < 0.01, "vibration mean \(healthy.mean.2)")
        #expect(abs(healthy.deviation.2 - 0.3) < 0.01, "vibration deviation \(healthy.deviation.2)")
        #expect(abs(healthy.mean.3 - 45) < 0.1, "temperature mean \(healthy.mean.3)")
        #expect(abs(healthy.deviation.3 - 5) < 0.1, "temperature deviation \(healthy.deviation.3)")
        // Failing rows: pressure ×0.6, vibration ×2.5, temperature +20; flow unchanged.
        #expect(abs(failing.mean.0 - 500) < 3, "failing flow mean \(failing.mean.0)")
        #expect(abs(failing.mean.1 - 3) < 0.03, "failing pressure mean \(failing.mean.1)")
        #expect(abs(failing.deviation.1 - 0.3) < 0.02, "failing pressure deviation \(failing.deviation.1)")
        #expect(abs(failing.mean.2 - 5) < 0.05, "failing vibration mean \(failing.mean.2)")
        #expect(abs(failing.deviation.2 - 0.75) < 0.04, "failing vibration deviation \(failing.deviation.2)")
        #expect(abs(failing.mean.3 - 65) < 0.3, "failing temperature mean \(failing.mean.3)")
    }

    @Test func readingsAreWholeHundredths() {
        let generator = TelemetryGenerator(seed: 9, count: 1000)
        for record in generator.page(cursor: 0, limit: 1000) {
            for value in [record.flowRate, record.pressure, record.vibration, record.temperature] {
                #expect(((value * 100).rounded() / 100) == value)
            }
        }
    }

    @Test func portableLogAgreesWithLibm() {
        var random = SplitMix64(seed: 1, index: 2, stream: .readings)
        for _ in 0..<10_000 {
            let x = random.nextUnit() + 0x1p-60
            let expected = Foundation.log(x)
            #expect(abs(SplitMix64.portableLog(x) - expected) <= 4 * expected.ulp, "log(\(x))")
        }
        #expect(SplitMix64.portableLog(1) == 0)
    }
}

/// Running sums for means and standard deviations of the four readings.
private struct Moments {
    var count = 0
    var sums = (0.0, 0.0, 0.0, 0.0)
    var squares = (0.0, 0.0, 0.0, 0.0)

    mutating func add(_ a: Double, _ b: Double, _ c: Double, _ d: Double) {
        count += 1
        sums = (sums.0 + a, sums.1 + b, sums.2 + c, sums.3 + d)
        squares = (squares.0 + a * a, squares.1 + b * b, squares.2 + c * c, squares.3 + d * d)
    }

    var mean: (Double, Double, Double, Double) {
        let n = Double(count)
        return (sums.0 / n, sums.1 / n, sums.2 / n, sums.3 / n)
    }

    var deviation: (Double, Double, Double, Double) {
        let n = Double(count)
        let m = mean
        func sd(_ square: Double, _ mean: Double) -> Double { (square / n - mean * mean).squareRoot() }
        return (sd(squares.0, m.0), sd(squares.1, m.1), sd(squares.2, m.2), sd(squares.3, m.3))
    }
}
