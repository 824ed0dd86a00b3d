import PortableRandom
import Pipeline
import Wire

/// The simulated pump fleet's telemetry: a pure function of (seed, record index).
///
/// Record `i` belongs to pump `P_%03d` number `i % 10 + 1` (a fleet of 10) and is stamped
/// 2000-01-01T00:00:00Z plus `i / 10` hours, so (pump, timestamp) is unique. At most
/// `maximumCount` records (2,000,000: the last is stamped 2022-10-25 07:00:00Z), so every
/// generated timestamp lies in the past and the record gate's future check never fires on them. Readings follow
/// the original's distributions (DESIGN.md "Data contract"): flow N(500, 50), pressure
/// N(5, 0.5), vibration N(2, 0.3), temperature N(45, 5); 5 % of records are failures, with
/// pressure ×0.6, vibration ×2.5 and temperature +20. Readings are rounded to 2 decimals, as
/// a sensor API reports them.
///
/// Each record comes from its own counter-based stream (SplitMix64 seeded by mixing the seed
/// and the index), so any page is produced without generating the ones before it. The
/// arithmetic is IEEE-exact operations only (+ − × ÷, square root, rounding; no libm `log`,
/// `sin` or `cos`, whose last bit varies between C libraries), so the values are bit-identical
/// across runs, machines and C libraries.
public struct TelemetryGenerator: Sendable {
    /// The first record's timestamp: 2000-01-01T00:00:00Z in Unix seconds.
    public static let startTimestamp: Int64 = 946_684_800
    /// The most records a generator serves, open-ended (follow) sources included: 200,000 hours
    /// of a fleet of 10 from 2000-01-01, so the last record (2022-10-25 07:00:00Z) is still in the past.
    public static let maximumCount = 2_000_000
    /// Pumps in the fleet; record `i` belongs to pump `i % pumpCount + 1`.
    public static let pumpCount = 10
    /// Probability that a record is a failure.
    public static let failureRate = 0.05

    /// The seed every record's stream derives from.
    public let seed: UInt64
    /// How many records the generator serves: indices `0..<count`.
    public let count: Int
    /// Which telemetry: the original's distributions, or the realistic profile.
    public let profile: SimulatorProfile

    /// A generator of `count` records (0…`maximumCount`) for `seed`.
    public init(seed: UInt64, count: Int, profile: SimulatorProfile = .original) {
        precondition((0...Self.maximumCount).contains(count), "record count \(count) outside 0...\(Self.maximumCount)")
        self.seed = seed
        self.count = count
        self.profile = profile
    }

    /// The record at `index` (in `0..<count`), computed on its own. With the realistic profile
    /// a reading the API sends as missing is in the record as generated (see `servedRecord`).
    public func record(at index: Int) -> TelemetryRecord {
        precondition(index >= 0 && index < count, "record index \(index) outside 0..<\(count)")
        if profile == .realistic { return realisticRecord(at: index).record }
        var random = SplitMix64(seed: seed, index: UInt64(index), stream: .readings)
        let (flowNoise, pressureNoise) = random.nextNormalPair()
        let (vibrationNoise, temperatureNoise) = random.nextNormalPair()
        let isFailure = random.nextUnit() < Self.failureRate
        var pressure = 5 + 0.5 * pressureNoise
        var vibration = 2 + 0.3 * vibrationNoise
        var temperature = 45 + 5 * temperatureNoise
        if isFailure {
            pressure *= 0.6
            vibration *= 2.5
            temperature += 20
        }
        return TelemetryRecord(
            timestamp: Self.timestamp(at: index),
            pumpID: Self.pumpIDs[index % Self.pumpCount],
            flowRate: Self.centesimal(500 + 50 * flowNoise),
            pressure: Self.centesimal(pressure),
            vibration: Self.centesimal(vibration),
            temperature: Self.centesimal(temperature),
            failure: isFailure ? 1 : 0
        )
    }

    /// Records `cursor..<min(cursor + limit, count)`; empty when `cursor >= count`.
    public func page(cursor: Int, limit: Int) -> [TelemetryRecord] {
        precondition(cursor >= 0 && limit >= 0, "page cursor \(cursor) or limit \(limit) is negative")
        guard cursor < count else { return [] }
        let end = cursor + min(limit, count - cursor)
        return (cursor..<end).map(record(at:))
    }

    /// Unix seconds of record `index`: each pump reports hourly.
    static func timestamp(at index: Int) -> Int64 {
        startTimestamp + Int64(index / pumpCount) * 3600
    }

    static let pumpIDs: [String] = (1...pumpCount).map { number in
        let digits = String(number)
        return "P_" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// `value` rounded to 2 decimals: the nearest double to a whole number of hundredths.
    static func centesimal(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }
}

/// Independent streams for the same (seed, index): readings, per-record faults, per-request faults.
enum SimulatorStream: UInt64 {
    case readings = 0x5EED_0001
    case recordFaults = 0x5EED_0002
    case requestFaults = 0x5EED_0003
}

extension SplitMix64 {
    /// The simulator's stream `stream` for record (or request) `index`.
    init(seed: UInt64, index: UInt64, stream: SimulatorStream) {
        self.init(seed: seed, stream: stream.rawValue, index: index)
    }
}
