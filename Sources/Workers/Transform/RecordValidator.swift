import Pipeline
import Wire

/// Judges records against `ValidationRules`, in a fixed order so the reason is deterministic:
/// missing readings first (flow rate, pressure, vibration, temperature — pandas' `dropna`
/// runs before anything else), then the pump id, the failure label, and each reading's
/// finiteness and range in the same field order.
///
/// Timestamps (order, duplicates, the future) are not the validator's concern: only
/// `GatedTransformer` knows the pumps' history and the time.
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
