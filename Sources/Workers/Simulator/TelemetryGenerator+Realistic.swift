import Pipeline
import PortableRandom
import Wire

/// The `realistic` profile: telemetry where failures are a noisy function of the readings.
///
/// Per pump, a latent **wear** `w` builds up over a 30-day maintenance cycle, quadratically
/// (`w = severity × u²`, `u` the fraction of the cycle elapsed, `severity` drawn per pump and
/// cycle in [0.5, 1.5)), and drops to 0 at maintenance; each pump starts at its own point of its
/// cycle, so the fleet's mix of wear is the same from the first day (the drift gate's reference
/// profile sees every wear level). The true readings move with wear: flow −15 w, pressure
/// −0.2 w, vibration +0.3 w, temperature +3 w, on the original's noise N(500, 50), N(5, 0.5),
/// N(2, 0.3), N(45, 5).
///
/// A record fails when `0.5 z_v + 0.35 z_t − 0.3 z_p + 1.5 w + 1.3 η > 2.85`, `z` the standard
/// noise of the true readings and `η` an unobserved N(0, 1): about 6 % of records, never
/// separable from the readings alone. A failing pump reads slightly off (vibration +0.06…0.18,
/// temperature +1, pressure −0.08).
///
/// The sensors **drift**: each reading of each pump carries a slow triangular wave of its own
/// phase (flow ±8 over 3700 h, pressure ±0.1 over 2900 h, vibration ±0.06 over 2500 h,
/// temperature ±1.5 over 3100 h), bounded, so the batch drift gate (PSI) stays quiet. The model
/// sees the drifted readings; failures follow the true ones.
///
/// About 0.5 % of records have one **missing** reading, sent as JSON `null` (the transformer
/// drops the record and counts it, as the original's `dropna`).
///
/// Every value is a pure function of (seed, index) through IEEE-exact operations, as the
/// original profile: any page stands alone, bit-identical across runs and machines.
extension TelemetryGenerator {
    /// Hours in one maintenance cycle.
    static let wearCycleHours = 24.0 * 30
    /// Probability that a realistic record has one reading missing.
    static let realisticMissingRate = 0.005

    /// Realistic record `index` and the reading it is missing, if any.
    func realisticRecord(at index: Int) -> (record: TelemetryRecord, missing: SimulatedReading?) {
        let pump = index % Self.pumpCount
        let hour = Double(index / Self.pumpCount)
        let wear = Self.wear(seed: seed, pump: pump, hour: hour)
        var random = SplitMix64(seed: seed, index: UInt64(index), stream: .readings)
        let (flowNoise, pressureNoise) = random.nextNormalPair()
        let (vibrationNoise, temperatureNoise) = random.nextNormalPair()
        let (hidden, _) = random.nextNormalPair()
        let symptom = 0.5 + random.nextUnit()
        let missingDraw = random.nextUnit()
        let missingReading = SimulatedReading.allCases[Int(random.next() % UInt64(SimulatedReading.allCases.count))]

        let score = 0.5 * vibrationNoise + 0.35 * temperatureNoise - 0.3 * pressureNoise + 1.5 * wear + 1.3 * hidden
        let isFailure = score > 2.85
        var flow = 500 + 50 * flowNoise - 15 * wear
        var pressure = 5 + 0.5 * pressureNoise - 0.2 * wear
        var vibration = 2 + 0.3 * vibrationNoise + 0.3 * wear
        var temperature = 45 + 5 * temperatureNoise + 3 * wear
        if isFailure {
            vibration += 0.12 * symptom
            temperature += 1
            pressure -= 0.08
        }
        flow += Self.drift(seed: seed, pump: pump, reading: .flowRate, hour: hour, amplitude: 8, period: 3700)
        pressure += Self.drift(seed: seed, pump: pump, reading: .pressure, hour: hour, amplitude: 0.1, period: 2900)
        vibration += Self.drift(seed: seed, pump: pump, reading: .vibration, hour: hour, amplitude: 0.06, period: 2500)
        temperature += Self.drift(seed: seed, pump: pump, reading: .temperature, hour: hour, amplitude: 1.5, period: 3100)
        let record = TelemetryRecord(
            timestamp: Self.timestamp(at: index),
            pumpID: Self.pumpIDs[pump],
            flowRate: Self.centesimal(flow),
            pressure: Self.centesimal(pressure),
            vibration: Self.centesimal(vibration),
            temperature: Self.centesimal(temperature),
            failure: isFailure ? 1 : 0
        )
        return (record, missingDraw < Self.realisticMissingRate ? missingReading : nil)
    }

    /// The latent wear of `pump` at `hour`: `severity × u²` within its current cycle.
    static func wear(seed: UInt64, pump: Int, hour: Double) -> Double {
        var phaseRandom = SplitMix64(seed: seed, stream: RealisticStream.wearPhase.rawValue, index: UInt64(pump))
        let position = hour + phaseRandom.nextUnit() * wearCycleHours
        let cycle = (position / wearCycleHours).rounded(.down)
        let elapsed = (position - cycle * wearCycleHours) / wearCycleHours
        var cycleRandom = SplitMix64(seed: seed, stream: RealisticStream.wearSeverity.rawValue,
                                     index: UInt64(pump) << 32 | UInt64(cycle))
        let severity = 0.5 + cycleRandom.nextUnit()
        return severity * elapsed * elapsed
    }

    /// A bounded sensor drift: `amplitude` × a triangular wave in [−1, 1] of `period` hours, its
    /// phase drawn per (pump, reading).
    static func drift(seed: UInt64, pump: Int, reading: SimulatedReading, hour: Double, amplitude: Double,
                      period: Double) -> Double {
        var random = SplitMix64(seed: seed, stream: RealisticStream.drift.rawValue,
                                index: UInt64(pump * SimulatedReading.allCases.count + reading.rawValue))
        let x = hour / period + random.nextUnit()
        let fraction = x - x.rounded(.down)
        return amplitude * (4 * abs(fraction - 0.5) - 1)
    }
}

/// The realistic profile's per-pump streams (the per-record draws use `SimulatorStream.readings`).
enum RealisticStream: UInt64 {
    case wearPhase = 0x5EED_0101
    case wearSeverity = 0x5EED_0102
    case drift = 0x5EED_0103
}
