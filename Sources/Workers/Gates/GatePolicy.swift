/// What happens to the chain when a gate is violated. Either way the batch is quarantined whole.
public enum ViolationAction: String, CaseIterable, Equatable, Sendable, CustomStringConvertible {
    /// Quarantine the batch and stop the chain (exit 1): the default.
    case halt
    /// Quarantine the batch and go on with the next one.
    case quarantineAndContinue = "quarantine_and_continue"

    /// The policy spelling, `halt` or `quarantine_and_continue`.
    public var description: String { rawValue }
}

/// The integrity gates a batch passes on its way to the warehouse.
public enum GateName: String, CaseIterable, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Frames and payloads between the stages (decided by the channels).
    case transport
    /// Each record on its own and against its pump's history.
    case record
    /// The batch as a whole: drop rate, failure-label rate, drift.
    case batch
    /// The warehouse commit (decided by the loader).
    case warehouse
    /// A batch that keeps crashing a stage (decided by the supervisor).
    case poisonPill = "poison_pill"

    /// The policy spelling, e.g. `poison_pill`.
    public var description: String { rawValue }
}

/// The integrity gates' settings, from the repeatable worker option `--gate GATE.KEY=VALUE`.
///
/// | key | default | meaning |
/// | --- | --- | --- |
/// | `record.on_violation` | `halt` | `halt` or `quarantine_and_continue` |
/// | `record.max_future_s` | 3600 | a timestamp more than this many seconds after `now` is in the future |
/// | `batch.on_violation` | `halt` | |
/// | `batch.max_drop_rate` | 0.10 | records missing a reading / records in, 0…1 |
/// | `batch.label_rate_min`, `batch.label_rate_max` | 0.0, 0.20 | band of the failure-label rate of the valid records, 0…1, min ≤ max |
/// | `batch.min_records` | 500 | batches smaller than this are not judged for drop rate, label rate or drift (PSI over 10 bins is noise below a few hundred records: 3 % of clean 100-record batches exceed 0.25, none of 250 or more) |
/// | `batch.max_psi` | 0.25 | largest population stability index of a reading against the reference profile, > 0 |
/// | `batch.psi_bins` | 10 | bins of the reference profile, 2…100 |
/// | `batch.reference_records` | 5000 | trusted records that build the reference profile, 100…100000 |
/// | `poison_pill.on_violation`, `warehouse.on_violation` | `halt` | carried for the stages that decide them (`transport` has no setting) |
public struct GatePolicy: Equatable, Sendable {
    /// The record gate's settings.
    public struct RecordGate: Equatable, Sendable {
        public var onViolation: ViolationAction
        /// Seconds a timestamp may lie after `now` (clock skew); beyond it the record is in the future.
        public var maxFutureSeconds: Int64

        public init(onViolation: ViolationAction = .halt, maxFutureSeconds: Int64 = 3600) {
            self.onViolation = onViolation
            self.maxFutureSeconds = maxFutureSeconds
        }
    }

    /// The batch gate's settings.
    public struct BatchGate: Equatable, Sendable {
        public var onViolation: ViolationAction
        /// Largest share of the records in that may miss a reading (dropped as pandas' `dropna`).
        public var maxDropRate: Double
        /// Lowest failure-label rate of the batch's valid records.
        public var labelRateMin: Double
        /// Highest failure-label rate of the batch's valid records.
        public var labelRateMax: Double
        /// Fewest valid records (records in, for the drop rate) for a batch to be judged statistically.
        public var minRecords: Int
        /// Largest population stability index of any reading against the reference profile.
        public var maxPSI: Double
        /// Bins per reading in the reference profile.
        public var psiBins: Int
        /// Trusted records, in stream order, that make the reference profile.
        public var referenceRecords: Int

        public init(onViolation: ViolationAction = .halt, maxDropRate: Double = 0.10,
                    labelRateMin: Double = 0.0, labelRateMax: Double = 0.20, minRecords: Int = 500,
                    maxPSI: Double = 0.25, psiBins: Int = 10, referenceRecords: Int = 5000) {
            self.onViolation = onViolation
            self.maxDropRate = maxDropRate
            self.labelRateMin = labelRateMin
            self.labelRateMax = labelRateMax
            self.minRecords = minRecords
            self.maxPSI = maxPSI
            self.psiBins = psiBins
            self.referenceRecords = referenceRecords
        }
    }

    public var record: RecordGate
    public var batch: BatchGate
    /// The action for poison pills (decided by the supervisor, carried here).
    public var poisonPill: ViolationAction
    /// The action for warehouse violations (decided by the loader, carried here).
    public var warehouse: ViolationAction

    /// The defaults of the table above, any part replaced.
    public init(record: RecordGate = .init(), batch: BatchGate = .init(),
                poisonPill: ViolationAction = .halt, warehouse: ViolationAction = .halt) {
        self.record = record
        self.batch = batch
        self.poisonPill = poisonPill
        self.warehouse = warehouse
    }

    /// Every gate halts; the thresholds of the table above.
    public static let `default` = GatePolicy()

    /// What a violation of `gate` leads to. The transport gate has no setting: a corrupt or
    /// out-of-sequence frame is never applied, its reader fails and its writer re-sends, and a
    /// batch that keeps failing is a poison pill (`poisonPill`).
    public func action(for gate: GateName) -> ViolationAction {
        switch gate {
        case .transport: .halt
        case .record: record.onViolation
        case .batch: batch.onViolation
        case .warehouse: warehouse
        case .poisonPill: poisonPill
        }
    }

    /// Bounds of the numeric settings.
    public static let maxFutureSecondsRange: ClosedRange<Int64> = 0...3_155_760_000 // 100 years
    public static let minRecordsRange = 1...1_000_000
    public static let psiBinsRange = 2...100
    public static let referenceRecordsRange = 100...100_000

    /// Checks every setting against its range and the label band's order.
    /// - Throws: `WorkerUsageError`, one line naming the key, the value and what is expected.
    public func validate() throws(WorkerUsageError) {
        func fail(_ key: String, _ value: some CustomStringConvertible, _ expected: String) -> WorkerUsageError {
            WorkerUsageError(description: "--gate \(key)=\(value): \(key) expects \(expected)")
        }
        guard Self.maxFutureSecondsRange.contains(record.maxFutureSeconds) else {
            throw fail("record.max_future_s", record.maxFutureSeconds, "whole seconds in 0...\(Self.maxFutureSecondsRange.upperBound)")
        }
        for (key, rate) in [("batch.max_drop_rate", batch.maxDropRate), ("batch.label_rate_min", batch.labelRateMin),
                            ("batch.label_rate_max", batch.labelRateMax)] where !(0...1).contains(rate) {
            throw fail(key, rate, "a rate in 0...1")
        }
        guard batch.labelRateMin <= batch.labelRateMax else {
            throw WorkerUsageError(description: "--gate: batch.label_rate_min \(batch.labelRateMin) is above "
                + "batch.label_rate_max \(batch.labelRateMax) (expected min <= max)")
        }
        guard Self.minRecordsRange.contains(batch.minRecords) else {
            throw fail("batch.min_records", batch.minRecords, "an integer in \(Self.minRecordsRange.lowerBound)...\(Self.minRecordsRange.upperBound)")
        }
        guard batch.maxPSI.isFinite, batch.maxPSI > 0 else {
            throw fail("batch.max_psi", batch.maxPSI, "a finite number > 0")
        }
        guard Self.psiBinsRange.contains(batch.psiBins) else {
            throw fail("batch.psi_bins", batch.psiBins, "an integer in \(Self.psiBinsRange.lowerBound)...\(Self.psiBinsRange.upperBound)")
        }
        guard Self.referenceRecordsRange.contains(batch.referenceRecords) else {
            throw fail("batch.reference_records", batch.referenceRecords,
                       "an integer in \(Self.referenceRecordsRange.lowerBound)...\(Self.referenceRecordsRange.upperBound)")
        }
    }
}
