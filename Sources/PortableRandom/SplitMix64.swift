/// Reproducible randomness shared by the simulator (its data), the forest (bootstrap,
/// features, splits) and the benchmark data: the same numbers on every machine, toolchain and
/// thread count, and in the Python scripts that mirror them (benchmarks/).

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, counter-friendly generator.
///
/// Every random choice of the forest comes from one of these, seeded from (seed, stream,
/// index) only, so results never depend on threads or scheduling. The algorithms drawing
/// from it (bounded integers, shuffles) are our own, not the standard library's, so they
/// stay the same across toolchains.
public struct SplitMix64: Sendable, Codable {
    private var state: UInt64

    /// A generator whose first output is `mix(state + γ)`.
    public init(state: UInt64) {
        self.state = state
    }

    /// An independent stream for (`seed`, `stream`, `index`).
    public init(seed: UInt64, stream: UInt64, index: UInt64) {
        state = Self.mix(seed &+ Self.mix(index &+ Self.mix(stream)))
    }

    /// The SplitMix64 finaliser of `value + γ`: a bijective 64-bit mix.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (Lemire's multiply-high; the bias is below 2⁻³² for our bounds).
    public mutating func nextIndex(below bound: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(bound).multipliedFullWidth(by: next()).high)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Fisher–Yates shuffle of `values`, from the last position down.
    public mutating func shuffle<T>(_ values: inout [T]) {
        var i = values.count - 1
        while i > 0 {
            values.swapAt(i, nextIndex(below: i + 1))
            i -= 1
        }
    }

    /// Two independent standard normals: Marsaglia's polar form of Box–Muller, which needs no
    /// sine or cosine; its logarithm is `portableLog`, so no libm result enters the values.
    public mutating func nextNormalPair() -> (Double, Double) {
        while true {
            let u = 2 * nextUnit() - 1
            let v = 2 * nextUnit() - 1
            let s = u * u + v * v
            guard s > 0, s < 1 else { continue }
            let factor = (-2 * Self.portableLog(s) / s).squareRoot()
            return (u * factor, v * factor)
        }
    }

    /// Natural logarithm of a positive finite `x` from IEEE basic operations only (exact
    /// scaling, then the atanh series), so it is the same on every machine and in NumPy: libm's
    /// `log` may differ in the last bit between C libraries. Accurate to a few ulps.
    public static func portableLog(_ x: Double) -> Double {
        var mantissa = x.significand // [1, 2), exact
        var exponent = Double(x.exponent)
        if mantissa > 1.414_213_562_373_095_1 {
            mantissa *= 0.5
            exponent += 1
        }
        // log(m) = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716: 12 odd terms reach 1e-18.
        let s = (mantissa - 1) / (mantissa + 1)
        let s2 = s * s
        var term = s
        var sum = s
        var denominator = 1.0
        for _ in 0..<12 {
            term *= s2
            denominator += 2
            sum += term / denominator
        }
        return 2 * sum + exponent * 0.693_147_180_559_945_3
    }
}
