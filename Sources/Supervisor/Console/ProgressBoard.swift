import Wire

/// How the console shows one stage's progress: which counter counts its work, and out of how
/// many when that is known.
public struct StageDisplay: Sendable, Equatable {
    /// The counter that counts the stage's work (`records`, `rows_loaded`, `trees`).
    public var counter: String
    /// What the counter counts, for the reader (`records`, `rows`, `trees`).
    public var unit: String
    /// The count the stage will reach, when known before it starts (the simulator's records).
    public var total: Int64?
    /// A counter the worker sends holding the total (`trees_total`), when the worker knows it.
    public var totalCounter: String?
    /// Whether a rate and an ETA mean something (not for a count of steps of unequal length).
    public var showsRate: Bool

    public init(counter: String, unit: String, total: Int64? = nil, totalCounter: String? = nil, showsRate: Bool = true) {
        self.counter = counter
        self.unit = unit
        self.total = total
        self.totalCounter = totalCounter
        self.showsRate = showsRate
    }
}

/// The latest progress of each worker, as the root receives it over the control channels, with
/// a records-per-second rate measured here over the last few seconds, and the decision of when a
/// progress *line* is due (console without a terminal, and the log file).
///
/// Pure: the caller passes `now`.
public struct ProgressBoard: Sendable {
    public struct Entry: Sendable {
        public var worker: String
        public var progress: ControlMessage.Progress
        /// (when, count of the stage's counter), oldest first, the last `rateWindow` only.
        var samples: [(at: Duration, count: Int64)] = []
        /// When the counters last changed (ignoring rates).
        public var changedAt: Duration
        /// The counters last written as a line, and when.
        var logged: [String: Int64]?
        var loggedAt: Duration?
    }

    /// How the console shows each stage; a stage not listed counts with its first counter.
    public var stages: [String: StageDisplay]
    /// By worker name.
    public private(set) var entries: [String: Entry] = [:]
    /// The span the rate is measured over.
    public var rateWindow: Duration = .seconds(5)

    public init(stages: [String: StageDisplay] = [:]) {
        self.stages = stages
    }

    /// How `progress.stage` is shown.
    public func display(for progress: ControlMessage.Progress) -> StageDisplay {
        if let known = stages[progress.stage] { return known }
        let counter = progress.counters.keys.filter { !$0.hasSuffix("_per_s") }.sorted().first ?? ""
        return StageDisplay(counter: counter, unit: counter)
    }

    /// Records a progress message from `worker`.
    public mutating func record(_ progress: ControlMessage.Progress, from worker: String, now: Duration) {
        let count = progress.counters[display(for: progress).counter] ?? 0
        var entry = entries[worker] ?? Entry(worker: worker, progress: progress, changedAt: now)
        if entry.progress.stage != progress.stage || (entry.samples.last.map { count < $0.count } ?? false) {
            // A new stage, or a restarted worker counting from zero again: the old rate means nothing.
            entry.samples.removeAll()
        }
        if Self.essential(entry.progress.counters) != Self.essential(progress.counters) || entry.progress.stage != progress.stage {
            entry.changedAt = now
        }
        entry.progress = progress
        entry.samples.append((now, count))
        entry.samples.removeAll { now - $0.at > rateWindow }
        entries[worker] = entry
    }

    /// Forgets a worker's progress (it has stopped for good).
    public mutating func forget(_ worker: String) {
        entries[worker] = nil
    }

    /// The stage's count per second over the last `rateWindow`; 0 when it has not moved for a
    /// second, nil while too few samples came to tell.
    public func rate(of worker: String, now: Duration) -> Double? {
        guard let entry = entries[worker] else { return nil }
        if now - entry.changedAt >= .seconds(1) { return 0 }
        guard let first = entry.samples.first, let last = entry.samples.last else { return nil }
        let span = (last.at - first.at).seconds
        guard span >= 0.4 else { return nil }
        return Double(last.count - first.count) / span
    }

    /// The progress lines due at `now`: a worker's line once its counters changed since its last
    /// line and at least `interval` has passed since that line (the first line of a worker at
    /// once). An idle stage — counters unchanged — never gets a line. Marks them written.
    public mutating func linesDue(now: Duration, interval: Duration) -> [Entry] {
        var due: [Entry] = []
        for name in entries.keys.sorted() {
            guard var entry = entries[name] else { continue }
            let counters = Self.essential(entry.progress.counters)
            if let logged = entry.logged, logged == counters { continue }
            if let at = entry.loggedAt, now - at < interval { continue }
            entry.logged = counters
            entry.loggedAt = now
            entries[name] = entry
            due.append(entry)
        }
        return due
    }

    /// The counters without the rates the worker adds (`…_per_s`), which move on their own.
    static func essential(_ counters: [String: Int64]) -> [String: Int64] {
        counters.filter { !$0.key.hasSuffix("_per_s") }
    }
}
