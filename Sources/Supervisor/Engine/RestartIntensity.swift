/// OTP's restart intensity: more than `intensity` restarts within `period` and the node gives up.
/// Arithmetic on timestamps the caller passes (supervisor.erl `add_restart/3`).
struct RestartIntensity: Sendable {
    enum Verdict: Equatable { case allowed, exhausted }

    let intensity: Int
    let period: Duration
    private(set) var history: [Duration] = []

    init(intensity: Int, period: Duration) {
        self.intensity = intensity
        self.period = period
    }

    /// Records one restart at `now` and says whether it is still within the allowed intensity.
    mutating func record(at now: Duration) -> Verdict {
        history.removeAll { now - $0 > period }
        history.append(now)
        return history.count > intensity ? .exhausted : .allowed
    }

    /// A restarted node starts with a clean history, as a new OTP supervisor process would.
    mutating func reset() { history.removeAll() }

    /// Restarts counted in the current window.
    var count: Int { history.count }
}

/// A small deterministic random source (SplitMix64) for backoff jitter.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A Double in 0..<1.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
