#if canImport(Glibc)
import Glibc
#endif
import Wire

/// How long to wait before each attempt of a request that keeps failing: capped exponential
/// backoff with jitter, so a fleet of extractors does not hammer a recovering API in step.
public struct RetrySchedule: Equatable, Sendable {
    /// The wait before the second attempt (the first retry), before jitter.
    public var initial: Duration
    /// The longest wait, jitter included.
    public var maximum: Duration
    /// How much longer each wait is than the one before (before the cap).
    public var multiplier: Double
    /// The jitter as a fraction of the wait: 0.2 spreads each wait over ±20 %.
    public var jitter: Double

    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(30),
                multiplier: Double = 2, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The wait before attempt number `attempt` (1 is the first try).
    ///
    /// Attempt 1 is immediate; attempt n ≥ 2 waits `initial × multiplier^(n−2)`, capped at
    /// `maximum`, then scaled by `1 + jitter × (2 × unitRandom − 1)` and capped again, never
    /// below zero.
    /// - Parameter unitRandom: a number in `0..<1`; 0.5 means no jitter.
    public func delay(forAttempt attempt: Int, unitRandom: Double) -> Duration {
        guard attempt > 1 else { return .zero }
        let cap = maximum.seconds
        // pow overflows to +infinity for large attempts, which the cap absorbs.
        let base = min(initial.seconds * pow(multiplier, Double(attempt - 2)), cap)
        let jittered = min(max(base * (1 + jitter * (2 * unitRandom - 1)), 0), cap)
        return .nanoseconds(Int64(jittered * 1e9))
    }
}
