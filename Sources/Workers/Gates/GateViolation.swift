/// Why a batch was quarantined: the gate, what the policy says to do, and one line of reason.
public struct GateViolation: Error, Equatable, Sendable, CustomStringConvertible {
    /// The gate that failed.
    public var gate: GateName
    /// The policy's action for that gate.
    public var action: ViolationAction
    /// One line: for the record gate the first offending record (index, pump, timestamp), its
    /// rule and how many more failed; for the batch gate each measure that failed, its value and
    /// threshold.
    public var reason: String
    /// Records dropped in the batch (missing a reading, or exact duplicates), for reconciliation.
    public var dropped: Int
    /// The rejected records in input order (record gate only; empty for the batch gate).
    public var rejected: [RecordRejection]
    /// What the batch gate measured (nil for the record gate, which stops before measuring).
    public var measurements: BatchMeasurements?

    public init(gate: GateName, action: ViolationAction, reason: String, dropped: Int,
                rejected: [RecordRejection] = [], measurements: BatchMeasurements? = nil) {
        self.gate = gate
        self.action = action
        self.reason = reason
        self.dropped = dropped
        self.rejected = rejected
        self.measurements = measurements
    }

    /// One line, e.g. `batch gate violated (halt): drift: vibration PSI 0.41 > 0.25`.
    public var description: String {
        "\(gate) gate violated (\(action)): \(reason)"
    }
}

/// A rejected record: its index in the batch and why.
public struct RecordRejection: Equatable, Sendable {
    public var index: Int
    public var reason: RejectReason

    public init(index: Int, reason: RejectReason) {
        self.index = index
        self.reason = reason
    }
}
