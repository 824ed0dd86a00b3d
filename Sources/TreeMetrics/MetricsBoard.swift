import Foundation
import Supervisor

/// The one place the supervisor's loop and the metrics listener meet: the loop replaces the
/// snapshot (a copy, under a lock held for an assignment); the listener copies it out to render.
/// Neither ever waits on the other's work.
public final class MetricsBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: TreeSnapshot?

    public init() {}

    /// Called by the loop.
    public func publish(_ snapshot: TreeSnapshot) {
        lock.lock()
        latest = snapshot
        lock.unlock()
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
