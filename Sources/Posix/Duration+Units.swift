/// Unit conversions both sides of the wire use for timeouts and intervals.
extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }

    /// The duration in whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (whole, fraction) = components
        return whole * 1000 + fraction / 1_000_000_000_000_000
    }

    /// The duration in whole nanoseconds, rounded down.
    public var nanoseconds: Int64 {
        let (whole, fraction) = components
        return whole * 1_000_000_000 + fraction / 1_000_000_000
    }
}
