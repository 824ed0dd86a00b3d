import Wire

/// What `Transformer.process(_:)` made of a batch.
public struct TransformOutcome: Sendable {
    /// The valid records with their rolling means set, in input order; same batch id and cursor.
    public var output: RecordBatch
    /// How many records were dropped, by reason.
    public var dropped: [DropReason: Int]
    /// The rejected records: their index in the input batch and why, in input order.
    public var rejected: [(index: Int, reason: RejectReason)]

    /// How many records were rejected, by kind of reason.
    public var rejectedCounts: [RejectReason.Kind: Int] {
        rejected.reduce(into: [:]) { counts, entry in counts[entry.reason.kind, default: 0] += 1 }
    }

    /// How many records were dropped in all.
    public var droppedCount: Int { dropped.values.reduce(0, +) }
}

/// The transformer's logic: validates each record, then feeds the valid ones through the
/// per-pump rolling windows. Pure: no I/O, no clock.
///
/// Dropped and rejected records never enter the windows, and a record not later than the
/// last accepted one of its pump is rejected (`notIncreasing`). Processing is deterministic
/// and restartable: batches 1…n through one transformer give the same outputs as 1…k, then
/// `windows.encoded()`, a new transformer from the decoded windows, and k+1…n.
public struct Transformer: Sendable {
    /// The validator in use.
    public let validator: RecordValidator
    /// The per-pump state; persist it with each committed batch.
    public private(set) var windows: RollingWindows
    /// Slot in `windows` by pump number (the digits of the id), -1 for not seen yet: finding a
    /// pump's window costs an array read, not a string hash.
    private var slotByPumpNumber: [Int32]

    /// A transformer judging by `rules`, resuming from `windows`.
    public init(rules: ValidationRules, windows: RollingWindows = .init()) {
        validator = RecordValidator(rules: rules)
        self.windows = windows
        var pumpCount = 1
        for _ in 0..<rules.pumpIDDigitCount { pumpCount *= 10 }
        slotByPumpNumber = [Int32](repeating: -1, count: pumpCount)
        // Pumps in restored state whose ids fail these rules can never be hit: their records are rejected.
        for (slot, pumpID) in windows.pumpIDs.enumerated() {
            if let number = rules.pumpNumber(of: pumpID) { slotByPumpNumber[number] = Int32(slot) }
        }
    }

    /// The rules in use.
    public var rules: ValidationRules { validator.rules }

    /// Validates `batch`, computes the rolling means of its valid records and advances the windows.
    public mutating func process(_ batch: RecordBatch) -> TransformOutcome {
        var records: [TelemetryRecord] = []
        records.reserveCapacity(batch.records.count)
        var dropped: [DropReason: Int] = [:]
        var rejected: [(index: Int, reason: RejectReason)] = []
        for (index, original) in batch.records.enumerated() {
            let (verdict, number) = validator.check(original)
            switch verdict {
            case .dropped(let reason):
                dropped[reason, default: 0] += 1
                continue
            case .rejected(let reason):
                rejected.append((index, reason))
                continue
            case .valid:
                break
            }
            var record = original
            var slot = Int(slotByPumpNumber[number])
            if slot < 0 {
                slot = windows.slot(for: record.pumpID, firstTimestamp: record.timestamp)
                slotByPumpNumber[number] = Int32(slot)
            }
            guard windows.isAfterLast(record.timestamp, slot: slot) else {
                rejected.append((index, .notIncreasing(
                    pumpID: record.pumpID, timestamp: record.timestamp, last: windows.lastTimestamp(slot: slot))))
                continue
            }
            windows.apply(to: &record, slot: slot)
            records.append(record)
        }
        return TransformOutcome(
            output: RecordBatch(batchID: batch.batchID, cursor: batch.cursor, records: records),
            dropped: dropped, rejected: rejected)
    }
}
