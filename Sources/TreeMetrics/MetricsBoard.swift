import Foundation
import Posix
import Supervisor

/// The one place the supervisor's loop and the metrics listener meet: the loop replaces the
/// snapshot (a copy, under a lock held for an assignment); the listener copies it out to render.
/// Neither ever waits on the other's work.
public final class MetricsBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: TreeSnapshot?
    /// Each worker's rows out, sampled every `sampleInterval`, newest last: the web view's charts.
    private var samples: [String: [(at: Duration, rows: Int64)]] = [:]
    private var sampledAt: Duration?

    /// One sample per 5 s, five minutes kept.
    public static let sampleInterval: Duration = .seconds(5)
    public static let samplesKept = 61

    public init() {}

    /// Called by the loop (`now`: the monotonic clock).
    public func publish(_ snapshot: TreeSnapshot, now: Duration = Posix.monotonicNow()) {
        lock.lock()
        defer { lock.unlock() }
        latest = snapshot
        if let last = sampledAt, now - last < Self.sampleInterval { return }
        sampledAt = now
        for worker in snapshot.tree.workers {
            guard let rows = worker.recordsOut else { continue }
            var list = samples[worker.name] ?? []
            list.append((now, rows))
            if list.count > Self.samplesKept { list.removeFirst(list.count - Self.samplesKept) }
            samples[worker.name] = list
        }
    }

    /// Each worker's rows out per second over each sampling interval, oldest first (a count that
    /// went down — a restarted extractor re-reading its window — reads 0).
    public func throughput() -> [String: [Double]] {
        lock.lock()
        defer { lock.unlock() }
        return samples.mapValues { list in
            zip(list, list.dropFirst()).map { earlier, later in
                let seconds = Double((later.at - earlier.at).components.seconds)
                    + Double((later.at - earlier.at).components.attoseconds) / 1e18
                return seconds > 0 ? max(0, Double(later.rows - earlier.rows) / seconds) : 0
            }
        }
    }

    /// Called by the listener; nil before the loop's first snapshot.
    public func snapshot() -> TreeSnapshot? {
        lock.lock()
        defer { lock.unlock() }
        return latest
    }
}

/// What the warehouse says, read at scrape time on the listener's thread (`cidp` supplies the
/// reader; this target knows nothing of SQLite). Counts are the warehouse's committed totals,
/// so they go on across restarts of any worker.
public struct WarehouseFigures: Sendable, Equatable {
    /// Records of committed batches, as delivered by the extractor.
    public var extracted: Int64
    /// Fact rows inserted.
    public var loaded: Int64
    /// Records dropped by the transformer (missing readings, exact duplicates).
    public var dropped: Int64
    /// Records set aside in quarantine by an integrity gate.
    public var quarantined: Int64
    /// Quarantined batches per gate.
    public var gateViolations: [String: Int64]
    /// The checkpoint's last committed batch (0 before any).
    public var checkpointBatch: Int64
    /// When the checkpoint was last written, Unix seconds.
    public var lastCommit: Double?
    /// The serving model's holdout ROC-AUC and when it was created, Unix seconds.
    public var modelROCAUC: Double?
    public var modelTrainedAt: Double?
    /// For the web view: the newest quarantined batches and the model versions, newest first.
    public var quarantine: [QuarantinedBatch] = []
    public var models: [ModelVersion] = []

    /// One `etl_quarantine` row, without its records.
    public struct QuarantinedBatch: Codable, Sendable, Equatable {
        public var batch: UInt64
        public var gate: String
        public var action: String
        public var reason: String
        public var records: Int
        public var quarantinedAt: String
        public var resumedAt: String?

        public init(batch: UInt64, gate: String, action: String, reason: String, records: Int, quarantinedAt: String,
                    resumedAt: String?) {
            self.batch = batch
            self.gate = gate
            self.action = action
            self.reason = reason
            self.records = records
            self.quarantinedAt = quarantinedAt
            self.resumedAt = resumedAt
        }

        enum CodingKeys: String, CodingKey {
            case batch, gate, action, reason, records
            case quarantinedAt = "quarantined_at"
            case resumedAt = "resumed_at"
        }
    }

    /// One model version of the registry.
    public struct ModelVersion: Codable, Sendable, Equatable {
        public var version: Int64
        public var status: String
        public var createdAt: String
        public var rocAUC: Double?
        public var rows: Int64

        public init(version: Int64, status: String, createdAt: String, rocAUC: Double?, rows: Int64) {
            self.version = version
            self.status = status
            self.createdAt = createdAt
            self.rocAUC = rocAUC
            self.rows = rows
        }

        enum CodingKeys: String, CodingKey {
            case version, status, rows
            case createdAt = "created_at"
            case rocAUC = "roc_auc"
        }
    }

    public init(extracted: Int64 = 0, loaded: Int64 = 0, dropped: Int64 = 0, quarantined: Int64 = 0,
                gateViolations: [String: Int64] = [:], checkpointBatch: Int64 = 0, lastCommit: Double? = nil,
                modelROCAUC: Double? = nil, modelTrainedAt: Double? = nil) {
        self.extracted = extracted
        self.loaded = loaded
        self.dropped = dropped
        self.quarantined = quarantined
        self.gateViolations = gateViolations
        self.checkpointBatch = checkpointBatch
        self.lastCommit = lastCommit
        self.modelROCAUC = modelROCAUC
        self.modelTrainedAt = modelTrainedAt
    }
}
