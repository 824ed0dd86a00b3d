import Pipeline
import Wire

/// What `GatedTransformer.process(_:now:)` made of a batch that passed every gate.
public struct TransformOutcome: Sendable {
    /// The valid records with their rolling means set, in input order; same batch id and cursor.
    public var output: RecordBatch
    /// How many records were dropped, by reason (missing readings, exact duplicates).
    public var dropped: [DropReason: Int]
    /// The rejected records: their index in the input batch and why, in input order. Always
    /// empty for a batch that passed: one rejected record quarantines the whole batch.
    public var rejected: [(index: Int, reason: RejectReason)]
    /// What the batch gate measured, and which of its checks were not judged and why
    /// (e.g. drift, until the reference profile is complete).
    public var measurements: BatchMeasurements

    public init(output: RecordBatch, dropped: [DropReason: Int], rejected: [(index: Int, reason: RejectReason)] = [],
                measurements: BatchMeasurements) {
        self.output = output
        self.dropped = dropped
        self.rejected = rejected
        self.measurements = measurements
    }

    /// How many records were rejected, by kind of reason.
    public var rejectedCounts: [RejectReason.Kind: Int] {
        rejected.reduce(into: [:]) { counts, entry in counts[entry.reason.kind, default: 0] += 1 }
    }

    /// How many records were dropped in all.
    public var droppedCount: Int { dropped.values.reduce(0, +) }
}

extension TransformOutcome: Equatable {
    /// The same output (records bit for bit), drops, rejections and measurements.
    public static func == (lhs: TransformOutcome, rhs: TransformOutcome) -> Bool {
        lhs.output == rhs.output && lhs.dropped == rhs.dropped && lhs.measurements == rhs.measurements
            && lhs.rejected.count == rhs.rejected.count
            && zip(lhs.rejected, rhs.rejected).allSatisfy { $0.index == $1.index && $0.reason == $1.reason }
    }
}
