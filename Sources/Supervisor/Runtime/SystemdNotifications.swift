/// What the root tells systemd, and when (sd_notify(3)), as a value: no I/O, no clock reads.
/// The caller passes `now` and what it sees of the tree; `update` returns the datagrams to send.
///
/// - `READY=1` once, when the tree is first ready; never after `STOPPING=1`.
/// - `STATUS=…` from then on: a line checked at most once per `statusInterval` and sent only when
///   it changed.
/// - `WATCHDOG=1` every `pingInterval` (half of `WATCHDOG_USEC`) from readiness until the process
///   exits, the orderly shutdown included: systemd arms the watchdog when start-up completes and
///   keeps it through the stop.
/// - `STOPPING=1` once, when an orderly shutdown begins, whatever its cause.
struct SystemdNotifications: Equatable, Sendable {
    /// How often the watchdog is pinged; nil: it is not.
    let pingInterval: Duration?
    /// The least time between two status checks.
    static let statusInterval: Duration = .seconds(1)

    private(set) var hasSentReady = false
    private(set) var hasSentStopping = false
    private var lastStatus: String?
    private var statusDue: Duration?
    private var pingDue: Duration?

    init(pingInterval: Duration?) {
        self.pingInterval = pingInterval.flatMap { $0 > .zero ? $0 : nil }
    }

    /// The messages due at `now`, in the order to send them.
    /// - Parameters:
    ///   - isReady: the tree has been ready (it need not still be).
    ///   - isStopping: an orderly shutdown has begun, or the run has ended.
    ///   - status: the current status line; called only when a status check is due.
    mutating func update(now: Duration, isReady: Bool, isStopping: Bool, status: () -> String) -> [String] {
        var messages: [String] = []
        if isReady, !hasSentReady, !hasSentStopping {
            hasSentReady = true
            messages.append("READY=1")
            statusDue = now
            pingDue = pingInterval.map { now + $0 }
        }
        if isStopping, !hasSentStopping {
            hasSentStopping = true
            messages.append("STOPPING=1")
            // A shutdown before readiness still tells systemd where the tree stands.
            if statusDue == nil { statusDue = now }
        }
        if let due = statusDue, now >= due {
            let line = Self.oneLine((hasSentStopping ? "stopping: " : "") + status())
            if line != lastStatus {
                lastStatus = line
                messages.append("STATUS=" + line)
            }
            statusDue = now + Self.statusInterval
        }
        if let due = pingDue, let interval = pingInterval, now >= due {
            messages.append("WATCHDOG=1")
            // From now, not from `due`: after a stall one ping says all there is to say.
            pingDue = now + interval
        }
        return messages
    }

    /// The earliest time at which `update` has something to check: the next ping or status check.
    var nextDeadline: Duration? {
        switch (statusDue, pingDue) {
        case (let status?, let ping?): return min(status, ping)
        case (let status?, nil): return status
        case (nil, let ping?): return ping
        case (nil, nil): return nil
        }
    }

    /// A status line holds no newline: systemd reads one assignment per line.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}

extension SystemdNotifications {
    /// What the loader last said about the warehouse: the batch committed last and the rows the
    /// warehouse holds (progress counters `committed_batch` and `rows_loaded`, counted from the
    /// checkpoint: they go on across restarts).
    struct LoadProgress: Equatable, Sendable {
        var worker: String
        var committedBatch: Int64?
        var rowsLoaded: Int64?
    }

    /// The states `cidp status` uses, in the order a status line lists them.
    static let stateOrder = ["running", "degraded", "starting", "restarting", "stopping", "stopped", "halted", "failed"]

    /// One line for `systemctl status`: how many workers are in each state, and the load's
    /// progress when a worker reported it, e.g. `5 running, 1 degraded; loader: batch 12
    /// committed, 12000 rows loaded`.
    static func statusLine(tree: StatusEntry, load: LoadProgress?) -> String {
        var counts: [String: Int] = [:]
        func count(_ entry: StatusEntry) {
            switch entry.kind {
            case .worker: counts[entry.state, default: 0] += 1
            case .node: entry.children.forEach(count)
            }
        }
        count(tree)
        let known = stateOrder.filter { counts[$0] != nil }
        let others = counts.keys.filter { !stateOrder.contains($0) }.sorted()
        var line = (known + others).map { "\(counts[$0]!) \($0)" }.joined(separator: ", ")
        if line.isEmpty { line = "no workers" }
        if let load {
            var parts: [String] = []
            if let batch = load.committedBatch { parts.append("batch \(batch) committed") }
            if let rows = load.rowsLoaded { parts.append("\(rows) rows loaded") }
            if !parts.isEmpty { line += "; \(load.worker): " + parts.joined(separator: ", ") }
        }
        return line
    }
}
