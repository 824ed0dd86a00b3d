import Posix
import Wire

/// Who the control socket lets in: at most `cap` clients at once, each given `idleTimeout` from
/// connecting to send its request; what the root set aside for it (a spare descriptor to refuse
/// a client even at the descriptor limit); and the refusals not yet logged, so that a flood of
/// clients costs a log line every few seconds, not one per client.
struct ControlAdmission {
    /// Clients served at once: `control.max_connections`, or fewer when the descriptor limit
    /// cannot hold them beside what the tree reserves (`DescriptorBudget`).
    var cap: Int
    let idleTimeout: Duration
    /// Open on `/dev/null` while unused; closed to accept a client past the descriptor limit, so it
    /// can be told why it is refused rather than left waiting, then opened again.
    var spareFD: FileDescriptor?

    /// Why a client was sent away; the raw value names it in the log (`refused.busy=3`).
    enum Refusal: String {
        /// `cap` clients were connected.
        case busy
        /// It sent no whole request within `idleTimeout`.
        case idle
        /// The root was at its descriptor limit after all (the spare descriptor answered it).
        case outOfDescriptors = "out_of_descriptors"
    }

    /// Refusals since the last log line, by kind, and when that line was written.
    private(set) var unlogged: [Refusal: Int] = [:]
    private var loggedAt: Duration?
    /// At most one log line about refusals in this interval.
    static let logInterval: Duration = .seconds(10)

    init(settings: ControlSettings) {
        cap = settings.maxConnections
        idleTimeout = settings.idleTimeout
    }

    /// Counts a refusal; returns the counts to log now (the first refusal, then at most one line
    /// per `logInterval`), or nil to keep counting.
    mutating func note(_ refusal: Refusal, now: Duration) -> [Refusal: Int]? {
        unlogged[refusal, default: 0] += 1
        if let loggedAt, now - loggedAt < Self.logInterval { return nil }
        loggedAt = now
        defer { unlogged = [:] }
        return unlogged
    }

    /// The counts not logged yet, once `logInterval` has passed since the last line (nil otherwise),
    /// so that the end of a flood is logged too.
    mutating func flush(now: Duration) -> [Refusal: Int]? {
        guard !unlogged.isEmpty, let loggedAt, now - loggedAt >= Self.logInterval else { return nil }
        self.loggedAt = now
        defer { unlogged = [:] }
        return unlogged
    }

    /// The reply a client past the cap gets: the reason, and when a slot should be free again
    /// (the oldest idle client's deadline) so a client can wait for it.
    func busyReply(open: Int, oldestIdleSince: Duration?, now: Duration) -> ControlReply {
        let retry = oldestIdleSince.map { max(.milliseconds(10), $0 + idleTimeout - now) } ?? .seconds(1)
        return ControlReply(ok: false, error: "control socket busy: \(open) connections open, the most "
            + "control.max_connections allows here (\(cap)); try again shortly", retryAfterMs: Int(retry.milliseconds) + 10)
    }

    /// The reply an idle client gets as it is closed.
    var idleReply: ControlReply {
        ControlReply(ok: false, error: "no request within \(idleTimeout.milliseconds) ms of connecting "
            + "(control.idle_timeout_ms); closing")
    }
}
