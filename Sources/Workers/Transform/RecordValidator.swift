import Wire

/// Why a record was dropped: a missing reading, counted as pandas' `dropna` would.
public enum DropReason: Hashable, Sendable, CustomStringConvertible {
    /// The reading is NaN.
    case missing(Reading)

    /// One line, for example `vibration missing (NaN)`.
    public var description: String {
        switch self {
        case .missing(let reading): "\(reading) missing (NaN)"
        }
    }
}

/// Why a record was rejected: present but wrong.
public enum RejectReason: Equatable, Sendable, CustomStringConvertible {
    /// The reading is +∞ or −∞.
    case nonFinite(Reading, value: Double)
    /// The reading lies outside its physical range.
    case outOfRange(Reading, value: Double, range: ClosedRange<Double>)
    /// The pump id does not match the rules' pattern.
    case badPumpID(String)
    /// `failure` is not an allowed label.
    case badFailureLabel(UInt8)
    /// The record is not later than the last one accepted for its pump.
    case notIncreasing(pumpID: String, timestamp: Int64, last: Int64)

    /// The reason without its details, to count by.
    public enum Kind: Hashable, CaseIterable, Sendable {
        case nonFinite, outOfRange, badPumpID, badFailureLabel, notIncreasing
    }

    /// The reason without its details.
    public var kind: Kind {
        switch self {
        case .nonFinite: .nonFinite
        case .outOfRange: .outOfRange
        case .badPumpID: .badPumpID
        case .badFailureLabel: .badFailureLabel
        case .notIncreasing: .notIncreasing
        }
    }

    /// One line, for example `pressure 50.5 outside 0.0…50.0`.
    public var description: String {
        switch self {
        case .nonFinite(let reading, let value):
            "\(reading) is \(value) (not finite)"
        case .outOfRange(let reading, let value, let range):
            "\(reading) \(value) outside \(range.lowerBound)…\(range.upperBound)"
        case .badPumpID(let id):
            "pump id '\(id)' does not match the pattern"
        case .badFailureLabel(let label):
            "failure label \(label) not allowed"
        case .notIncreasing(let pumpID, let timestamp, let last):
            "pump \(pumpID): timestamp \(timestamp) not after the last accepted \(last)"
        }
    }
}

/// The verdict on one record.
public enum RecordVerdict: Equatable, Sendable {
    /// The record may enter the windows and the warehouse.
    case valid
    /// A reading is missing; the record is counted and left out.
    case dropped(DropReason)
    /// The record is wrong; it is reported with its index and left out.
    case rejected(RejectReason)
}

/// Judges records against `ValidationRules`, in a fixed order so the reason is deterministic:
/// missing readings first (flow rate, pressure, vibration, temperature — pandas' `dropna`
/// runs before anything else), then the pump id, the failure label, and each reading's
/// finiteness and range in the same field order.
///
/// Timestamp order is not the validator's concern: only `Transformer` knows the pumps' history.
public struct RecordValidator: Sendable {
    /// The rules applied.
    public let rules: ValidationRules
    /// `rules.allowedFailures` as a table indexed by label: no hashing per record.
    private let isAllowedFailure: [Bool]

    /// A validator applying `rules`.
    public init(rules: ValidationRules) {
        self.rules = rules
        isAllowedFailure = (0...255).map { rules.allowedFailures.contains(UInt8($0)) }
    }

    /// The verdict on `record`.
    public func validate(_ record: TelemetryRecord) -> RecordVerdict {
        check(record).verdict
    }

    /// The verdict and, for a valid record, its pump number (the digits of its id), so the
    /// transformer can find the pump's window without hashing the id.
    func check(_ record: TelemetryRecord) -> (verdict: RecordVerdict, pumpNumber: Int) {
        for reading in Reading.allCases where reading.value(in: record).isNaN {
            return (.dropped(.missing(reading)), -1)
        }
        guard let number = rules.pumpNumber(of: record.pumpID) else {
            return (.rejected(.badPumpID(record.pumpID)), -1)
        }
        guard isAllowedFailure[Int(record.failure)] else {
            return (.rejected(.badFailureLabel(record.failure)), -1)
        }
        for reading in Reading.allCases {
            let value = reading.value(in: record)
            guard value.isFinite else { return (.rejected(.nonFinite(reading, value: value)), -1) }
            let range = rules.range(of: reading)
            guard range.contains(value) else {
                return (.rejected(.outOfRange(reading, value: value, range: range)), -1)
            }
        }
        return (.valid, number)
    }
}
