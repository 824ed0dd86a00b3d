/// What a pipeline worker says it is working on (the `working` control message), and so what
/// its supervisor names when the same item crashed it again and again (a poison pill).
///
/// It travels as text — `batch 17`, `batches 3…5` — because the supervisor knows nothing of
/// batches: it only compares the items it was told. `description` and `init?(_:)` are the one
/// place that text is written and read.
public enum WorkItem: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// One batch: `batch 17`.
    case batch(UInt64)
    /// Consecutive batches committed together: `batches 3…5`.
    case batches(ClosedRange<UInt64>)

    /// `first…last` as one item: `batch first` when they are the same.
    public init(first: UInt64, last: UInt64) {
        self = first == last ? .batch(first) : .batches(first...last)
    }

    /// The item `text` names, exactly as `description` writes it; nil for anything else.
    public init?(_ text: String) {
        if text.hasPrefix("batch "), let id = UInt64(text.dropFirst(6)), "batch \(id)" == text {
            self = .batch(id)
            return
        }
        let bounds = text.dropFirst(8).split(separator: "…", omittingEmptySubsequences: false)
        guard text.hasPrefix("batches "), bounds.count == 2, let first = UInt64(bounds[0]), let last = UInt64(bounds[1]),
              first < last, "batches \(first)…\(last)" == text else { return nil }
        self = .batches(first...last)
    }

    public var description: String {
        switch self {
        case .batch(let id): "batch \(id)"
        case .batches(let range): "batches \(range.lowerBound)…\(range.upperBound)"
        }
    }
}

/// A batch the supervisor says crashed this worker `poison_pill_crashes` times in a row, with its
/// evidence (crashes, how, last output): the worker quarantines it rather than process it again.
public struct PoisonPill: Equatable, Sendable {
    /// The item as the supervisor named it.
    public var item: String
    /// One line: why the supervisor thinks the item is poisoned.
    public var evidence: String

    public init(item: String, evidence: String) {
        self.item = item
        self.evidence = evidence
    }

    /// The batch the pill is, when the item is one batch (`batch 17`); a group of batches is never
    /// one, since the first commits after a start hold one batch each.
    public var batchID: UInt64? {
        if case .batch(let id) = WorkItem(item) { return id }
        return nil
    }
}
