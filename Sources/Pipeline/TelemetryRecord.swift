/// One hourly reading of one pump, as it flows between the pipeline stages.
///
/// Missing readings are not modelled yet: a reading may be NaN, and it travels bit-exactly.
/// Equality compares doubles by bit pattern, so a record always equals itself (NaN included)
/// and equality means "identical on the wire".
public struct TelemetryRecord: Equatable, Sendable {
    /// Unix seconds, UTC.
    public var timestamp: Int64
    /// `P_001`…
    public var pumpID: String
    /// Flow rate.
    public var flowRate: Double
    /// Pressure.
    public var pressure: Double
    /// Vibration.
    public var vibration: Double
    /// Temperature.
    public var temperature: Double
    /// 1 for a failure, 0 otherwise (other values travel as they are; the integrity gate judges).
    public var failure: UInt8
    /// Mean vibration over the pump's window of 3, once the transformer has computed it.
    public var vibrationRollingMean: Double?
    /// Mean pressure over the pump's window of 3, once the transformer has computed it.
    public var pressureRollingMean: Double?

    /// A record with every field given; the rolling means default to not computed.
    public init(
        timestamp: Int64, pumpID: String,
        flowRate: Double, pressure: Double, vibration: Double, temperature: Double,
        failure: UInt8,
        vibrationRollingMean: Double? = nil, pressureRollingMean: Double? = nil
    ) {
        self.timestamp = timestamp
        self.pumpID = pumpID
        self.flowRate = flowRate
        self.pressure = pressure
        self.vibration = vibration
        self.temperature = temperature
        self.failure = failure
        self.vibrationRollingMean = vibrationRollingMean
        self.pressureRollingMean = pressureRollingMean
    }

    /// Identical fields, doubles compared by bit pattern.
    public static func == (lhs: TelemetryRecord, rhs: TelemetryRecord) -> Bool {
        lhs.timestamp == rhs.timestamp && lhs.pumpID == rhs.pumpID
            && lhs.flowRate.bitPattern == rhs.flowRate.bitPattern
            && lhs.pressure.bitPattern == rhs.pressure.bitPattern
            && lhs.vibration.bitPattern == rhs.vibration.bitPattern
            && lhs.temperature.bitPattern == rhs.temperature.bitPattern
            && lhs.failure == rhs.failure
            && lhs.vibrationRollingMean?.bitPattern == rhs.vibrationRollingMean?.bitPattern
            && lhs.pressureRollingMean?.bitPattern == rhs.pressureRollingMean?.bitPattern
    }
}
