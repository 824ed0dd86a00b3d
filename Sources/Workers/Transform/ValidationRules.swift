import Pipeline
import Wire

/// What a valid telemetry record looks like: a physical range per reading, the allowed
/// failure labels and the pump id pattern (`pumpIDPrefix` then `pumpIDDigitCount` ASCII digits).
///
/// The defaults are the original pipeline's: flow rate 0…2000, pressure 0…50,
/// vibration 0…100, temperature −50…200, failure 0 or 1, pump ids `P_001`….
public struct ValidationRules: Equatable, Sendable {
    /// Allowed flow rates, bounds included.
    public var flowRate: ClosedRange<Double>
    /// Allowed pressures, bounds included.
    public var pressure: ClosedRange<Double>
    /// Allowed vibrations, bounds included.
    public var vibration: ClosedRange<Double>
    /// Allowed temperatures, bounds included.
    public var temperature: ClosedRange<Double>
    /// Allowed values of `failure`.
    public var allowedFailures: Set<UInt8>
    /// What every pump id starts with.
    public var pumpIDPrefix: String
    /// How many ASCII digits follow the prefix (1…6).
    public var pumpIDDigitCount: Int

    /// Rules with the original pipeline's defaults, any of them replaced.
    /// - Precondition: `pumpIDDigitCount` is in 1…6 (pump numbers index a table of 10^digits slots).
    public init(
        flowRate: ClosedRange<Double> = 0...2000,
        pressure: ClosedRange<Double> = 0...50,
        vibration: ClosedRange<Double> = 0...100,
        temperature: ClosedRange<Double> = -50...200,
        allowedFailures: Set<UInt8> = [0, 1],
        pumpIDPrefix: String = "P_",
        pumpIDDigitCount: Int = 3
    ) {
        precondition((1...6).contains(pumpIDDigitCount), "pump id digit count \(pumpIDDigitCount) outside 1…6")
        self.flowRate = flowRate
        self.pressure = pressure
        self.vibration = vibration
        self.temperature = temperature
        self.allowedFailures = allowedFailures
        self.pumpIDPrefix = pumpIDPrefix
        self.pumpIDDigitCount = pumpIDDigitCount
    }

    /// The allowed range of `reading`.
    public func range(of reading: Reading) -> ClosedRange<Double> {
        switch reading {
        case .flowRate: flowRate
        case .pressure: pressure
        case .vibration: vibration
        case .temperature: temperature
        }
    }

    /// The number in a pump id that matches the pattern (`"P_042"` → 42), or nil.
    public func pumpNumber(of pumpID: String) -> Int? {
        let prefix = pumpIDPrefix.utf8
        let id = pumpID.utf8
        guard id.count == prefix.count + pumpIDDigitCount, id.starts(with: prefix) else { return nil }
        var number = 0
        for byte in id.dropFirst(prefix.count) {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            number = number * 10 + Int(byte - 0x30)
        }
        return number
    }
}

/// One of the four readings of a record, named as in the warehouse.
public enum Reading: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case flowRate = "flow_rate"
    case pressure
    case vibration
    case temperature

    /// The column name.
    public var description: String { rawValue }

    /// This reading of `record`.
    public func value(in record: TelemetryRecord) -> Double {
        switch self {
        case .flowRate: record.flowRate
        case .pressure: record.pressure
        case .vibration: record.vibration
        case .temperature: record.temperature
        }
    }
}
