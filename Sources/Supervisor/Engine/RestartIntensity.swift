/// OTP's restart intensity: more than `intensity` restarts within `period` and the node gives up.
/// Arithmetic on timestamps the caller passes (supervisor.erl `add_restart/3`): the node's
/// intensity clock, which leaves out the time spent waiting out restart backoffs
/// (`SupervisorTree.intensityClock(of:)`).
struct RestartIntensity: Sendable, Codable {
    enum Verdict: Equatable { case allowed, exhausted }

    private(set) var intensity: Int
    private(set) var period: Duration
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

    /// New limits from a reload; the restarts already counted stay counted.
    mutating func retune(intensity: Int, period: Duration) {
        self.intensity = intensity
        self.period = period
    }

    /// A restarted node starts with a clean history, as a new OTP supervisor process would.
    mutating func reset() { history.removeAll() }

    /// Restarts counted in the current window.
    var count: Int { history.count }

    /// When the latest restart was recorded, if any.
    var latest: Duration? { history.last }
}
