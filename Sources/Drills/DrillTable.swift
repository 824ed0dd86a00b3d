import Foundation
import Pipeline
import Wire
import Workers

/// What a correct, crash-free run puts in `fact_telemetry_features`, computed independently of
/// the pipeline: the simulator's records for (seed, index), clean of every fault, with each
/// rolling mean computed by brute force (the mean of the pump's last three readings, in
/// timestamp order, partial windows at the start) — the data contract of DESIGN.md.
enum ReferenceTable {
    /// The first `count` records of the stream for `seed`, in source order.
    static func rows(seed: UInt64, count: Int) -> [TelemetryRecord] {
        let generator = TelemetryGenerator(seed: seed, count: count)
        var history: [String: [(vibration: Double, pressure: Double)]] = [:]
        var rows: [TelemetryRecord] = []
        rows.reserveCapacity(count)
        for index in 0..<count {
            var record = generator.record(at: index)
            history[record.pumpID, default: []].append((record.vibration, record.pressure))
            let window = history[record.pumpID]!.suffix(3)
            record.vibrationRollingMean = window.map(\.vibration).reduce(0, +) / Double(window.count)
            record.pressureRollingMean = window.map(\.pressure).reduce(0, +) / Double(window.count)
            rows.append(record)
        }
        return rows
    }
}

/// A fact row's key: (pump, timestamp), the table's primary key.
struct RowKey: Hashable {
    var pumpID: String
    var timestamp: Int64

    init(_ record: TelemetryRecord) {
        pumpID = record.pumpID
        timestamp = record.timestamp
    }

    /// `P_003 2025-01-01 04:00:00`.
    var description: String { "\(pumpID) \(RowKey.format(timestamp))" }

    /// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC, as the warehouse stores them (the warehouse's
    /// own formatter: one calendar).
    static func format(_ seconds: Int64) -> String { UTCTimestamp.text(seconds) }
}

/// The fact table against the reference, row by row: readings and labels exactly, rolling means
/// to a relative 1e-12 (the pipeline keeps running sums; the reference adds up the window).
struct TableComparison {
    let expectedCount: Int
    let observedCount: Int
    /// Expected keys absent from the table.
    private(set) var missing = 0
    /// Keys in the table the reference does not have.
    private(set) var unexpected = 0
    /// Rows present with other values.
    private(set) var differing = 0
    /// The first few differences, described.
    private(set) var samples: [String] = []

    /// Compares `observed` with `expected`. With `requireEveryExpectedRow` false, only the rows
    /// present are judged (each must equal the reference for its key); absence is not a fault.
    init(observed: [TelemetryRecord], expected: [TelemetryRecord], requireEveryExpectedRow: Bool = true) {
        expectedCount = expected.count
        observedCount = observed.count
        var reference: [RowKey: TelemetryRecord] = [:]
        reference.reserveCapacity(expected.count)
        for record in expected { reference[RowKey(record)] = record }
        var seen = Set<RowKey>()
        for row in observed {
            let key = RowKey(row)
            seen.insert(key)
            guard let want = reference[key] else {
                unexpected += 1
                note("unexpected row \(key.description)")
                continue
            }
            if let difference = Self.difference(row, want) {
                differing += 1
                note("\(key.description): \(difference)")
            }
        }
        if requireEveryExpectedRow {
            for record in expected where !seen.contains(RowKey(record)) {
                missing += 1
                note("missing \(RowKey(record).description)")
            }
        }
    }

    /// Whether the table is the reference: the same keys, the same values.
    var isExact: Bool { missing == 0 && unexpected == 0 && differing == 0 && observedCount == expectedCount }

    /// Whether every row present equals the reference for its key.
    var rowsPresentAreClean: Bool { unexpected == 0 && differing == 0 }

    /// `20000 rows; 0 missing, 0 unexpected, 0 differing` plus the first differences.
    var summary: String {
        "\(observedCount) rows; \(missing) missing, \(unexpected) unexpected, \(differing) differing"
            + (samples.isEmpty ? "" : " (e.g. " + samples.joined(separator: "; ") + ")")
    }

    private mutating func note(_ text: String) {
        if samples.count < 3 { samples.append(text) }
    }

    /// The first column in which `row` differs from `want`, described; nil when equal.
    static func difference(_ row: TelemetryRecord, _ want: TelemetryRecord) -> String? {
        let exact: [(String, Double, Double)] = [
            ("flow_rate", row.flowRate, want.flowRate), ("pressure", row.pressure, want.pressure),
            ("vibration", row.vibration, want.vibration), ("temperature", row.temperature, want.temperature),
        ]
        for (column, got, expected) in exact where got != expected {
            return "\(column) \(got), expected \(expected)"
        }
        if row.failure != want.failure { return "failure \(row.failure), expected \(want.failure)" }
        let means: [(String, Double?, Double?)] = [
            ("vibration_rolling_mean", row.vibrationRollingMean, want.vibrationRollingMean),
            ("pressure_rolling_mean", row.pressureRollingMean, want.pressureRollingMean),
        ]
        for (column, got, expected) in means {
            guard let got, let expected, abs(got - expected) <= 1e-12 * abs(expected) else {
                return "\(column) \(got.map { "\($0)" } ?? "NULL"), expected \(expected.map { "\($0)" } ?? "NULL")"
            }
        }
        return nil
    }
}
