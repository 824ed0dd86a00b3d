/// How the warehouse waits out another connection's write lock (a backup, a drill, a reader
/// upgrading): SQLite's busy timeout per attempt, then capped exponential backoff between
/// attempts, up to a deadline after which `commit` fails with `WarehouseError.Code.locked`.
public struct LockPolicy: Equatable, Sendable {
    /// How long one attempt waits inside SQLite. C: `sqlite3_busy_timeout`.
    public var busyTimeout: Duration
    /// The pause after the first failed attempt; doubled after each further one.
    public var initialBackoff: Duration
    /// The longest pause between attempts.
    public var maxBackoff: Duration
    /// How long `commit` keeps trying, counted from its start, before it gives up.
    public var deadline: Duration

    /// A policy; the defaults suit a loader (a 60 s lock is an incident, not a hiccup).
    public init(
        busyTimeout: Duration = .milliseconds(250), initialBackoff: Duration = .milliseconds(50),
        maxBackoff: Duration = .seconds(2), deadline: Duration = .seconds(60)
    ) {
        self.busyTimeout = busyTimeout
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.deadline = deadline
    }

    /// The pause after `attempt` failed attempts (1-based): `initialBackoff · 2^(attempt-1)`, capped.
    func backoff(afterAttempt attempt: Int) -> Duration {
        var pause = initialBackoff
        for _ in 1..<max(1, attempt) where pause < maxBackoff { pause *= 2 }
        return min(pause, maxBackoff)
    }
}
