import PortableRandom
import Pipeline
import Wire

/// A deterministic pseudo-random source (SplitMix64), so generated sequences are the same on every run.
struct TransformTestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<1.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in `range`.
    mutating func double(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }

    mutating func int(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Builders for the transform tests.
enum TransformSamples {
    /// A valid record of pump `pump` (1-based) at `timestamp`.
    static func record(
        _ pump: Int = 1, at timestamp: Int64 = 1_700_000_000,
        flowRate: Double = 500, pressure: Double = 5, vibration: Double = 2, temperature: Double = 45,
        failure: UInt8 = 0
    ) -> TelemetryRecord {
        TelemetryRecord(
            timestamp: timestamp, pumpID: pumpID(pump),
            flowRate: flowRate, pressure: pressure, vibration: vibration, temperature: temperature,
            failure: failure)
    }

    static func pumpID(_ pump: Int) -> String {
        let digits = String(pump)
        return "P_" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// `count` records over `pumps` pumps in source order: timestamps increase per pump and
    /// interleave across pumps; readings spread over their ranges, with repeats and zeros;
    /// every `invalidEvery`-th record (if any) is made missing, out of range, or a repeat of
    /// its pump's last timestamp, in turn.
    static func sequence(count: Int, pumps: Int, seed: UInt64, invalidEvery: Int? = nil) -> [TelemetryRecord] {
        var random = TransformTestRandom(seed: seed)
        var clock = [Int64](repeating: 1_700_000_000, count: pumps + 1)
        var records: [TelemetryRecord] = []
        for index in 0..<count {
            let pump = 1 + random.int(below: pumps)
            clock[pump] += 1 + Int64(random.int(below: 3600))
            var record = record(
                pump, at: clock[pump],
                flowRate: random.double(in: 0...2000),
                pressure: random.int(below: 10) == 0 ? 5 : random.double(in: 0...50),
                vibration: random.int(below: 10) == 0 ? 0 : random.double(in: 0...100) * pow10(-random.int(below: 6)),
                temperature: random.double(in: -50...200),
                failure: UInt8(random.int(below: 2)))
            if let invalidEvery, index % invalidEvery == invalidEvery - 1 {
                switch (index / invalidEvery) % 3 {
                case 0: record.temperature = .nan
                case 1: record.pressure = 50.5
                default: record.timestamp = clock[pump] - 1
                }
            }
            records.append(record)
        }
        return records
    }

    private static func pow10(_ exponent: Int) -> Double {
        var value = 1.0
        for _ in 0..<(-exponent) { value /= 10 }
        return value
    }

    /// `records` cut into batches of `size`, numbered from 1, cursors `c<n>`.
    static func batches(_ records: [TelemetryRecord], size: Int) -> [RecordBatch] {
        stride(from: 0, to: records.count, by: size).enumerated().map { number, start in
            RecordBatch(batchID: UInt64(number + 1), cursor: "c\(number + 1)",
                        records: Array(records[start..<min(start + size, records.count)]))
        }
    }
}
