import Pipeline
import Wire

/// Where the ETL chain resumes after a restart: the warehouse's `etl_checkpoint` row, written
/// in the same transaction as the batch it names.
public struct Checkpoint: Equatable, Sendable {
    /// The last committed batch; batches numbered up to it are not applied again.
    public var batchID: UInt64
    /// The source position after that batch: where extraction resumes.
    public var position: SourcePosition
    /// The transformer's rolling-window state after that batch, opaque to the warehouse.
    public var windowState: [UInt8]
    /// Fact rows inserted so far (duplicates of rows already present not counted): equals the
    /// fact table's row count when only the loader writes it.
    public var rowsLoaded: Int64
    /// Records dropped upstream so far, as reported with each batch.
    public var rowsDropped: Int64

    /// A checkpoint with every field given.
    public init(batchID: UInt64, position: SourcePosition, windowState: [UInt8], rowsLoaded: Int64, rowsDropped: Int64) {
        self.batchID = batchID
        self.position = position
        self.windowState = windowState
        self.rowsLoaded = rowsLoaded
        self.rowsDropped = rowsDropped
    }
}

/// What `Warehouse.commit` did with a batch.
public enum CommitOutcome: Equatable, Sendable {
    /// Committed: `inserted` new fact rows, `duplicates` records whose (pump, timestamp) was already there.
    case committed(inserted: Int, duplicates: Int)
    /// Committed as quarantined: no fact row, `records` set aside in `etl_quarantine`, the
    /// checkpoint past the batch; `action` says whether the chain halts here.
    case quarantined(records: Int, action: QuarantineAction)
    /// The checkpoint already covers this batch id: nothing was written.
    case alreadyCommitted
}

/// The order of `Warehouse.rows(orderedBy:)`.
public enum RowOrder: Sendable {
    /// By pump, then timestamp: the primary key's order.
    case pumpThenTimestamp
    /// By timestamp, then pump: source order.
    case timestampThenPump
}
