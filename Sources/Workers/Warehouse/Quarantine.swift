import Pipeline
import Wire

/// What an integrity gate decided for a batch it would not let into the fact table: the
/// batch is committed as quarantined (its records kept aside in `etl_quarantine`, no fact row).
public struct Quarantine: Sendable, Equatable {
    /// The gate that stopped the batch, e.g. `schema` or `poison_pill`.
    public var gate: String
    /// Whether the chain stops at this batch or goes on.
    public var action: QuarantineAction
    /// Why, in one line for an operator.
    public var reason: String
    /// Crash evidence for a poison pill (the worker's last words), nil otherwise.
    public var evidence: String?
    /// The batch's records as they came in, kept for the operator (never loaded). At least one.
    public var records: [TelemetryRecord]

    /// A quarantine with every field given.
    public init(gate: String, action: QuarantineAction, reason: String, evidence: String? = nil,
                records: [TelemetryRecord]) {
        self.gate = gate
        self.action = action
        self.reason = reason
        self.evidence = evidence
        self.records = records
    }
}

/// What the chain does after a quarantined batch; the raw values are `etl_quarantine.action`'s.
public enum QuarantineAction: String, Sendable, Equatable, CaseIterable {
    /// The chain stops until an operator resumes it (`Warehouse.resumeHalts(at:)`).
    case halt = "halt"
    /// The batch is set aside and the chain goes on with the next.
    case quarantineAndContinue = "quarantine_and_continue"
}

/// One `etl_quarantine` row without its records (`Warehouse.quarantinedRecords(batchID:)` has them).
public struct QuarantineEntry: Sendable, Equatable {
    /// The quarantined batch.
    public var batchID: UInt64
    /// The gate that stopped it.
    public var gate: String
    /// Halt or continue.
    public var action: QuarantineAction
    /// Why, in one line.
    public var reason: String
    /// Crash evidence, for a poison pill.
    public var evidence: String?
    /// How many records were set aside.
    public var recordCount: Int
    /// When it was committed: `YYYY-MM-DD HH:MM:SS` UTC.
    public var quarantinedAt: String
    /// When an operator resumed a halt (`YYYY-MM-DD HH:MM:SS` UTC); nil while open, and for
    /// a batch quarantined and continued past.
    public var resumedAt: String?

    /// An entry with every field given.
    public init(batchID: UInt64, gate: String, action: QuarantineAction, reason: String, evidence: String?,
                recordCount: Int, quarantinedAt: String, resumedAt: String?) {
        self.batchID = batchID
        self.gate = gate
        self.action = action
        self.reason = reason
        self.evidence = evidence
        self.recordCount = recordCount
        self.quarantinedAt = quarantinedAt
        self.resumedAt = resumedAt
    }

    /// Whether this is a halt no operator has resumed yet.
    public var isOpenHalt: Bool { action == .halt && resumedAt == nil }
}
