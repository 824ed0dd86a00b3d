import Testing
import Pipeline
import Wire
@testable import Workers

@Suite struct SimulatorFaultsTests {
    @Test(arguments: [
        ("outage=5", SimulatorFaults.Setting.outage(.seconds(5))),
        ("outage=0.5", .outage(.milliseconds(500))),
        ("latency=20", .latency(.milliseconds(20))),
        ("http500=0.1", .http500(0.1)),
        ("malformed=0.05", .malformed(0.05)),
        ("poison=0.01", .poison(0.01, from: 0)),
        ("poison=0.01@3000", .poison(0.01, from: 3000)),
        ("poison=1@0", .poison(1, from: 0)),
        ("missing=1", .missing(1)),
        ("missing=0", .missing(0)),
        ("flip=0.05", .flip(0.05, from: 0)),
        ("flip=0.05@5000", .flip(0.05, from: 5000)),
    ])
    func parsesEveryKind(text: String, expected: SimulatorFaults.Setting) throws {
        #expect(try SimulatorFaults.parse(text) == expected)
    }

    @Test(arguments: [
        ("outage", "is not KIND=VALUE"),
        ("", "is not KIND=VALUE"),
        ("=5", "unknown kind ''"),
        ("crash=1", "unknown kind 'crash', expected one of outage, latency, http500, malformed, poison, missing, flip"),
        ("HTTP500=0.1", "unknown kind 'HTTP500'"),
        ("outage=-1", "outage expects seconds >= 0, got '-1'"),
        ("outage=soon", "outage expects seconds >= 0, got 'soon'"),
        ("outage=", "outage expects seconds >= 0, got ''"),
        ("latency=inf", "latency expects milliseconds >= 0, got 'inf'"),
        ("latency=nan", "latency expects milliseconds >= 0, got 'nan'"),
        ("http500=1.5", "http500 expects a rate from 0 to 1, got '1.5'"),
        ("malformed=-0.1", "malformed expects a rate from 0 to 1, got '-0.1'"),
        ("poison=10%", "poison expects RATE or RATE@FROM (a rate from 0 to 1, FROM a record index >= 0), got '10%'"),
        ("missing= 0.1", "missing expects a rate from 0 to 1, got ' 0.1'"),
        ("flip=2", "flip expects RATE or RATE@FROM"),
        ("flip=0.1@-5", "flip expects RATE or RATE@FROM"),
        ("flip=0.1@", "flip expects RATE or RATE@FROM"),
        ("poison=0.01@-1", "poison expects RATE or RATE@FROM"),
        ("poison=0.01@", "poison expects RATE or RATE@FROM"),
        ("poison=0.01@3k", "poison expects RATE or RATE@FROM"),
        ("poison=@3000", "poison expects RATE or RATE@FROM"),
    ])
    func rejectsBadFormsNamingWhatIsExpected(text: String, message: String) {
        #expect {
            try SimulatorFaults.parse(text)
        } throws: { error in
            let description = (error as? SimulatorFaults.ParseError)?.description ?? ""
            return description.contains(message) && description.contains("'\(text)'")
        }
    }

    @Test func laterSettingOfAKindReplacesTheEarlierAndDescriptionListsWhatIsOn() throws {
        var faults = SimulatorFaults()
        #expect(faults.description == "none")
        for text in ["http500=0.1", "poison=0.01", "http500=0.2", "outage=5"] {
            faults.apply(try SimulatorFaults.parse(text))
        }
        #expect(faults.http500Rate == 0.2)
        #expect(faults.outage == .seconds(5))
        #expect(faults.description == "outage=5.0 http500=0.2 poison=0.01")
        faults.apply(try SimulatorFaults.parse("poison=0.01@3000"))
        #expect(faults.poisonRate == 0.01 && faults.poisonFrom == 3000)
        #expect(faults.description == "outage=5.0 http500=0.2 poison=0.01@3000")
        // A later plain poison=RATE starts the poison at the first record again.
        faults.apply(try SimulatorFaults.parse("poison=0.02"))
        #expect(faults.poisonFrom == 0 && faults.description == "outage=5.0 http500=0.2 poison=0.02")
    }

    @Test func poisonAndMissingAreDeterministicPerSeedAndIndex() {
        var faults = SimulatorFaults()
        faults.poisonRate = 0.01
        faults.missingRate = 0.01
        let first = TelemetryGenerator(seed: 42, count: 100_000)
        let second = TelemetryGenerator(seed: 42, count: 100_000)
        var poisoned = 0
        var missing = 0
        for index in 0..<first.count {
            let served = first.servedRecord(at: index, faults: faults)
            #expect(served == second.servedRecord(at: index, faults: faults))
            if served.poison != nil { poisoned += 1 }
            if served.missing != nil { missing += 1 }
        }
        #expect((800...1200).contains(poisoned), "poisoned \(poisoned) of 100000 at 1 %")
        #expect((800...1200).contains(missing), "missing \(missing) of 100000 at 1 %")
    }

    @Test func flipInvertsOnlyLabelsAndOnlyFromItsFirstRecord() {
        var faults = SimulatorFaults()
        faults.apply(.flip(0.1, from: 5000))
        let generator = TelemetryGenerator(seed: 9, count: 20_000)
        var flipped = 0
        for index in 0..<generator.count {
            let served = generator.servedRecord(at: index, faults: faults)
            var clean = generator.record(at: index)
            if served.poison != nil {
                #expect(index >= 5000)
                #expect(served.poison == .flippedLabel)
                clean.failure = 1 - clean.failure
                flipped += 1
            }
            #expect(served.record == clean)
            #expect(served.missing == nil)
        }
        #expect((1200...1800).contains(flipped), "flipped \(flipped) of 15000 at 10 %")
        // Adding the fault changes no other fault's decisions.
        var both = SimulatorFaults()
        both.poisonRate = 0.01
        let poisonOnly = both
        both.apply(.flip(0.5, from: 0))
        for index in 0..<2000 {
            let withPoison = generator.servedRecord(at: index, faults: poisonOnly)
            if withPoison.poison != nil { #expect(generator.servedRecord(at: index, faults: both) == withPoison) }
        }
    }

    @Test func poisonFromLeavesTheRecordsBeforeItCleanAndPoisonsTheRestAtTheRate() throws {
        let from = 3000
        var faults = SimulatorFaults()
        faults.apply(try SimulatorFaults.parse("poison=0.01@\(from)"))
        faults.missingRate = 0.01
        var fromStart = faults
        fromStart.poisonFrom = 0
        var missingOnly = faults
        missingOnly.poisonRate = 0
        let generator = TelemetryGenerator(seed: 42, count: 50_000)
        let again = TelemetryGenerator(seed: 42, count: 50_000)
        var poisoned = 0
        for index in 0..<generator.count {
            let served = generator.servedRecord(at: index, faults: faults)
            // Same seed, same data.
            #expect(served == again.servedRecord(at: index, faults: faults))
            if index < from {
                // Before FROM: the record without the poison fault, the other faults untouched.
                #expect(served == generator.servedRecord(at: index, faults: missingOnly), "record \(index)")
                #expect(served.poison == nil)
            } else {
                // From FROM on: exactly what plain poison=RATE serves.
                #expect(served == generator.servedRecord(at: index, faults: fromStart), "record \(index)")
                if served.poison != nil { poisoned += 1 }
            }
        }
        #expect((370...570).contains(poisoned), "poisoned \(poisoned) of 47000 at 1 %")
        // With no other fault, the records before FROM are the fault-free ones.
        var poisonOnly = SimulatorFaults()
        poisonOnly.apply(.poison(1, from: from))
        for index in 0..<from {
            #expect(generator.servedRecord(at: index, faults: poisonOnly) == ServedRecord(record: generator.record(at: index)))
        }
        #expect(generator.servedRecord(at: from, faults: poisonOnly).poison != nil)
        #expect(generator.poisonedRecord(at: from - 1, faults: poisonOnly) == nil)
    }

    @Test func poisonAtRateOneMakesEveryRecordImpossibleOrMislabelled() {
        var faults = SimulatorFaults()
        faults.poisonRate = 1
        let generator = TelemetryGenerator(seed: 3, count: 10_000)
        var kinds = Set<Int>()
        for index in 0..<generator.count {
            let served = generator.servedRecord(at: index, faults: faults)
            let clean = generator.record(at: index)
            #expect(Self.isImpossible(served.record) || served.record.failure != clean.failure)
            kinds.insert(served.poison?.rawValue ?? -1)
        }
        #expect(kinds == Set(Poison.allCases.map(\.rawValue)))
    }

    @Test func noFaultsLeaveRecordsClean() {
        let generator = TelemetryGenerator(seed: 3, count: 1000)
        for index in 0..<generator.count {
            #expect(generator.servedRecord(at: index, faults: SimulatorFaults()) == ServedRecord(record: generator.record(at: index)))
        }
    }

    @Test func missingNeverHidesThePoisonedReading() {
        var faults = SimulatorFaults()
        faults.poisonRate = 1
        faults.missingRate = 1
        let generator = TelemetryGenerator(seed: 5, count: 10_000)
        for index in 0..<generator.count {
            let served = generator.servedRecord(at: index, faults: faults)
            #expect(served.missing != nil)
            #expect(served.missing != served.poison?.reading)
        }
    }

    /// Readings no pump can produce: negative flow, crushing pressure, below absolute zero.
    static func isImpossible(_ record: TelemetryRecord) -> Bool {
        record.flowRate < 0 || record.pressure >= 1e5 || record.temperature < -273.15
    }
}
