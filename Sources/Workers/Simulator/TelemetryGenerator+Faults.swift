import PortableRandom
import Pipeline
import Wire

/// One of a record's four readings.
enum SimulatedReading: Int, CaseIterable, Sendable {
    case flowRate, pressure, vibration, temperature
}

/// How a poisoned record is made wrong: a physically impossible reading, or a lie in the label.
enum Poison: Int, CaseIterable, Sendable {
    case negativeFlow, crushingPressure, subAbsoluteZero, flippedLabel

    /// The reading the poison touches, if any.
    var reading: SimulatedReading? {
        switch self {
        case .negativeFlow: .flowRate
        case .crushingPressure: .pressure
        case .subAbsoluteZero: .temperature
        case .flippedLabel: nil
        }
    }
}

/// A record as the simulator serves it: possibly poisoned, possibly with one reading missing.
struct ServedRecord: Equatable, Sendable {
    var record: TelemetryRecord
    var poison: Poison?
    /// The reading sent as JSON `null`.
    var missing: SimulatedReading?
}

extension TelemetryGenerator {
    /// Impossible values a poisoned record carries.
    static let crushingPressure = 1e6
    static let subAbsoluteZero = -300.0

    /// Record `index` with the record-level faults of `faults` applied. The decisions come from
    /// the record's own fault stream, so they are the same on every run with the same seed.
    func servedRecord(at index: Int, faults: SimulatorFaults) -> ServedRecord {
        var served: ServedRecord
        if profile == .realistic {
            let (record, missing) = realisticRecord(at: index)
            served = ServedRecord(record: record, missing: missing)
        } else {
            served = ServedRecord(record: record(at: index))
        }
        guard faults.poisonRate > 0 || faults.missingRate > 0 || faults.flipRate > 0 else { return served }
        var random = SplitMix64(seed: seed, index: UInt64(index), stream: .recordFaults)
        // Every draw happens whatever the rates, so one fault's decisions do not depend on another's rate.
        let poisonDraw = random.nextUnit()
        let poisonKind = Poison.allCases[Int(random.next() % UInt64(Poison.allCases.count))]
        let missingDraw = random.nextUnit()
        var missingReading = SimulatedReading.allCases[Int(random.next() % UInt64(SimulatedReading.allCases.count))]
        // The draws above are made whatever `poisonFrom`, so the records from FROM on get exactly
        // the decisions they get under `poison=RATE`; the ones before it are served clean of poison.
        if index >= faults.poisonFrom, poisonDraw < faults.poisonRate {
            served.poison = poisonKind
            switch poisonKind {
            case .negativeFlow: served.record.flowRate = -(abs(served.record.flowRate) + 1)
            case .crushingPressure: served.record.pressure = Self.crushingPressure
            case .subAbsoluteZero: served.record.temperature = Self.subAbsoluteZero
            case .flippedLabel: served.record.failure = 1 - served.record.failure
            }
        }
        // Drawn after the others, so adding this fault changed none of their decisions.
        let flipDraw = random.nextUnit()
        if served.poison == nil, index >= faults.flipFrom, flipDraw < faults.flipRate {
            served.poison = .flippedLabel
            served.record.failure = 1 - served.record.failure
        }
        if missingDraw < faults.missingRate {
            // Hiding the poisoned reading would hide the poison: take the next reading instead.
            if let poisoned = served.poison?.reading, poisoned == missingReading {
                missingReading = SimulatedReading.allCases[(missingReading.rawValue + 1) % SimulatedReading.allCases.count]
            }
            served.missing = missingReading
        }
        return served
    }
}
