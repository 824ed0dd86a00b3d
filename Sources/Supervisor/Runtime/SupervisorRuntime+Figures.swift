#if canImport(Glibc)
import Glibc
#endif
import Posix
import Wire

/// What the root knows of its tree at one moment, for `/metrics` (published by the loop under a
/// lock, read by the listener's thread: the loop never waits for a scrape).
public struct TreeSnapshot: Sendable, Equatable {
    /// The tree as `cidp status --json` gives it (without /proc samples: the reader takes them).
    public var tree: StatusTree
    /// Per worker: restarts so far by the cause of the exit that led to each (`signal SIGKILL`,
    /// `exit code 1`, `watchdog`, `readiness timeout`), since the root started.
    public var restarts: [String: [String: Int]]
    /// Per node: how many times it gave up (restart intensity), since the root started.
    public var giveUps: [String: Int]
    /// Per worker: when its live incarnation became ready, Unix seconds.
    public var startedAt: [String: Double]

    public init(tree: StatusTree, restarts: [String: [String: Int]] = [:], giveUps: [String: Int] = [:],
                startedAt: [String: Double] = [:]) {
        self.tree = tree
        self.restarts = restarts
        self.giveUps = giveUps
        self.startedAt = startedAt
    }
}

/// The runtime's running account of what its workers reported and how they ended: kept by
/// worker name, so it outlives every incarnation.
struct RuntimeFigures: Codable {
    struct Progress: Codable {
        var stage: String
        var counters: [String: Int64]
    }

    var progress: [String: Progress] = [:]
    /// The cause the next restart of a worker is counted under.
    var pendingCause: [String: String] = [:]
    var restarts: [String: [String: Int]] = [:]
    /// Restarts already attributed, per worker (the tree's count is the truth).
    var countedRestarts: [String: Int] = [:]
    var giveUps: [String: Int] = [:]
    var startedAt: [String: Double] = [:]
    var lastPublished: Duration?

    mutating func note(_ notice: TreeNotice) {
        switch notice {
        case .exited(let worker, _, let status, _):
            // A watchdog or readiness kill said why first: keep that.
            if pendingCause[worker] == nil { pendingCause[worker] = "\(status)" }
        case .watchdogExpired(let worker, _, _):
            pendingCause[worker] = "watchdog"
        case .readinessTimeout(let worker, _):
            pendingCause[worker] = "readiness timeout"
        case .startFailed(let worker, _):
            pendingCause[worker] = "start failed"
        case .ready(let worker, _, _):
            startedAt[worker] = Self.wallClockNow()
        case .gaveUp(let node, _):
            giveUps[node, default: 0] += 1
        default:
            break
        }
    }

    /// Attributes each worker's new restarts (the tree's count went up) to its pending cause.
    mutating func attributeRestarts(in tree: StatusTree) {
        for worker in tree.workers {
            let counted = countedRestarts[worker.name] ?? 0
            guard worker.restarts > counted else { continue }
            let cause = pendingCause.removeValue(forKey: worker.name) ?? "unknown"
            restarts[worker.name, default: [:]][cause, default: 0] += worker.restarts - counted
            countedRestarts[worker.name] = worker.restarts
        }
    }

    static func wallClockNow() -> Double {
        let spec = Posix.realtimeNow()
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

extension SupervisorRuntime {
    /// Keeps a worker's latest progress report: its counters count from the warehouse
    /// checkpoint, so the last one stands until its next incarnation reports.
    func keepProgressForStatus(_ progress: ControlMessage.Progress, of id: ElementID) {
        figures.progress[tree.name(of: id)] = RuntimeFigures.Progress(stage: progress.stage, counters: progress.counters)
    }

    /// The tree for `cidp status`: the engine's view, with each worker's progress and last
    /// error line, and (`sampleProcesses`) its resident memory and CPU time from /proc.
    func statusTree(sampleProcesses: Bool) -> StatusTree {
        var status = StatusTree(tree.snapshot(now: Posix.monotonicNow()))
        // The root's own build, on its row: what `cidp upgrade --root` changes.
        status.build = BuildInfo.short
        status.updateWorkers { worker in
            if let progress = figures.progress[worker.name] {
                worker.stage = progress.stage
                worker.counters = progress.counters
                worker.recordsIn = progress.counters["records_in"]
                worker.recordsOut = progress.counters["records_out"]
                // A worker's rate is the counter it names `<counter>_per_s` (ProgressReporter).
                worker.recordsPerSecond = progress.counters.first { $0.key.hasSuffix("_per_s") }?.value
            }
            if let pid = worker.pid {
                worker.lastError = lastErrors[pid]
                if sampleProcesses, let sample = ProcessSample.read(pid: pid) {
                    worker.rssBytes = sample.residentBytes
                    worker.cpuSeconds = sample.cpuSeconds
                }
            }
        }
        return status
    }

    /// Hands the publisher a fresh snapshot, at most every `snapshotInterval`.
    func publishSnapshotIfDue() {
        guard let publish = snapshotPublisher else { return }
        let now = Posix.monotonicNow()
        if let last = figures.lastPublished, now - last < Self.snapshotInterval { return }
        figures.lastPublished = now
        let status = statusTree(sampleProcesses: false)
        figures.attributeRestarts(in: status)
        publish(TreeSnapshot(tree: status, restarts: figures.restarts, giveUps: figures.giveUps,
                             startedAt: figures.startedAt))
    }

    static let snapshotInterval: Duration = .milliseconds(250)
}
