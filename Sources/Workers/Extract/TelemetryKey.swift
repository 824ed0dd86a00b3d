#if canImport(Glibc)
import Glibc
#endif

/// The keys a telemetry page may hold: two at the top, seven in each record. Their names here
/// are the data contract's; a source may give them others (`SourceFormat`).
enum TelemetryKey: String, CaseIterable, Sendable {
    case records, nextCursor = "next_cursor"
    case timestamp, pumpID = "pump_id", flowRate = "flow_rate", pressure, vibration, temperature, failure

    /// The keys of the page object, in the order of `pageBit`.
    static let pageKeys: [TelemetryKey] = [.records, .nextCursor]
    /// The keys of a record, in the order of `recordBit`.
    static let recordKeys: [TelemetryKey] = [.timestamp, .pumpID, .flowRate, .pressure, .vibration, .temperature, .failure]

    /// The key's bit in a mask of keys seen in its object.
    var bit: UInt8 {
        switch self {
        case .records, .timestamp: 1
        case .nextCursor, .pumpID: 2
        case .flowRate: 4
        case .pressure: 8
        case .vibration: 16
        case .temperature: 32
        case .failure: 64
        }
    }

    /// The key's position in `allCases` (an index into `SourceFormat.names`).
    var ordinal: Int {
        switch self {
        case .records: 0
        case .nextCursor: 1
        case .timestamp: 2
        case .pumpID: 3
        case .flowRate: 4
        case .pressure: 5
        case .vibration: 6
        case .temperature: 7
        case .failure: 8
        }
    }

    /// Whether the key belongs in a record (rather than in the page object).
    var isRecordKey: Bool {
        self != .records && self != .nextCursor
    }

    /// The key as it appears in JSON, for comparing raw bytes.
    var name: StaticString {
        switch self {
        case .records: "records"
        case .nextCursor: "next_cursor"
        case .timestamp: "timestamp"
        case .pumpID: "pump_id"
        case .flowRate: "flow_rate"
        case .pressure: "pressure"
        case .vibration: "vibration"
        case .temperature: "temperature"
        case .failure: "failure"
        }
    }

    /// The key whose contract name is the `length` bytes at `start`, if any: a switch on length
    /// and first byte, then one comparison.
    @inline(__always)
    static func match(_ start: UnsafePointer<UInt8>, length: Int) -> TelemetryKey? {
        let candidate: TelemetryKey?
        switch (length, start[0]) {
        case (7, UInt8(ascii: "r")): candidate = .records
        case (7, UInt8(ascii: "p")): candidate = .pumpID
        case (7, UInt8(ascii: "f")): candidate = .failure
        case (8, UInt8(ascii: "p")): candidate = .pressure
        case (9, UInt8(ascii: "t")): candidate = .timestamp
        case (9, UInt8(ascii: "f")): candidate = .flowRate
        case (9, UInt8(ascii: "v")): candidate = .vibration
        case (11, UInt8(ascii: "t")): candidate = .temperature
        case (11, UInt8(ascii: "n")): candidate = .nextCursor
        default: candidate = nil
        }
        guard let candidate, memcmp(start, candidate.name.utf8Start, length) == 0 else { return nil }
        return candidate
    }
}
