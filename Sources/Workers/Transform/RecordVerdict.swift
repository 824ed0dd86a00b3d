import Wire

/// Why a record was dropped: a missing reading, counted as pandas' `dropna` would, or an
/// exact repeat of a record already accepted. Neither is a gate violation.
public enum DropReason: Hashable, Sendable, CustomStringConvertible {
    /// The reading is NaN.
    case missing(Reading)
    /// Same pump and timestamp as a record already accepted, with the same readings and label
    /// (a re-sent row): the first copy is kept.
    case duplicate

    /// One line, for example `vibration missing (NaN)`.
    public var description: String {
        switch self {
        case .missing(let reading): "\(reading) missing (NaN)"
        case .duplicate: "duplicate of a record already accepted"
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
    /// The timestamp lies more than `maxFutureSeconds` after `now`.
    case futureTimestamp(timestamp: Int64, now: Int64, maxFutureSeconds: Int64)
    /// Same pump and timestamp as a record already accepted, but other values; `difference`
    /// names the first field that differs, e.g. `pressure 5.1, accepted 5.0`.
    case conflictingDuplicate(pumpID: String, timestamp: Int64, difference: String)

    /// The reason without its details, to count by.
    public enum Kind: Hashable, CaseIterable, Sendable {
        case nonFinite, outOfRange, badPumpID, badFailureLabel, notIncreasing, futureTimestamp, conflictingDuplicate
    }

    /// The reason without its details.
    public var kind: Kind {
        switch self {
        case .nonFinite: .nonFinite
        case .outOfRange: .outOfRange
        case .badPumpID: .badPumpID
        case .badFailureLabel: .badFailureLabel
        case .notIncreasing: .notIncreasing
        case .futureTimestamp: .futureTimestamp
        case .conflictingDuplicate: .conflictingDuplicate
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
        case .futureTimestamp(let timestamp, let now, let maxFutureSeconds):
            "timestamp \(UTCTimestamp.text(timestamp)) more than \(maxFutureSeconds) s after now (\(UTCTimestamp.text(now)))"
        case .conflictingDuplicate(let pumpID, let timestamp, let difference):
            "pump \(pumpID) at \(UTCTimestamp.text(timestamp)) again with other values (\(difference))"
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
