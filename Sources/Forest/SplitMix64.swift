/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, counter-friendly generator.
///
/// Every random choice of the forest comes from one of these, seeded from (seed, stream,
/// index) only, so results never depend on threads or scheduling. The algorithms drawing
/// from it (bounded integers, shuffles) are our own, not the standard library's, so they
/// stay the same across toolchains.
struct SplitMix64 {
    private var state: UInt64

    /// A generator whose first output is `mix(state + γ)`.
    init(state: UInt64) {
        self.state = state
    }

    /// An independent stream for (`seed`, `stream`, `index`).
    init(seed: UInt64, stream: UInt64, index: UInt64) {
        state = Self.mix(seed &+ Self.mix(index &+ Self.mix(stream)))
    }

    /// The SplitMix64 finaliser of `value + γ`: a bijective 64-bit mix.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (Lemire's multiply-high; the bias is below 2⁻³² for our bounds).
    mutating func nextIndex(below bound: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(bound).multipliedFullWidth(by: next()).high)
    }

    /// Uniform in [0, 1), 53 random bits.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Fisher–Yates shuffle of `values`, from the last position down.
    mutating func shuffle<T>(_ values: inout [T]) {
        var i = values.count - 1
        while i > 0 {
            values.swapAt(i, nextIndex(below: i + 1))
            i -= 1
        }
    }
}

/// Stream identifiers, so that no two uses of the same seed draw the same numbers.
enum RandomStream {
    static let tree: UInt64 = 0xF0_4E57_0001
    static let binSample: UInt64 = 0xF0_4E57_0002
    static let split: UInt64 = 0xF0_4E57_0003
    static let synthetic: UInt64 = 0xF0_4E57_0004
}
