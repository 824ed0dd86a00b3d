/// What `Warehouse.integrityCheck()` found: SQLite's own check of the file, then the ETL
/// tables reconciled with each other, all read from one snapshot; and the totals.
public struct IntegrityReport: Equatable, Sendable {
    /// One check's outcome.
    public enum Verdict: Equatable, Sendable {
        case passed
        /// Failed; the string says the first thing found, in one line.
        case failed(String)

        /// Whether the check passed.
        public var isPassed: Bool { self == .passed }
    }

    /// The checks, in the order they run.
    public enum Check: String, CaseIterable, Sendable {
        /// `PRAGMA quick_check` answers `ok`.
        case quickCheck = "quick_check"
        /// `etl_batches` holds exactly the batch ids 1…checkpoint.
        case batchSequence = "batch_sequence"
        /// For every batch whose extracted count is recorded: extracted = inserted + duplicate
        /// + dropped + quarantined.
        case batchArithmetic = "batch_arithmetic"
        /// The fact table's row count = SUM(rows_inserted) = the checkpoint's `rows_loaded`, and
        /// SUM(rows_dropped) = the checkpoint's `rows_dropped`.
        case loadedRows = "loaded_rows"
        /// Every batch with quarantined records has its `etl_quarantine` row with that count,
        /// and no fact row; every `etl_quarantine` row has its batch.
        case quarantineRows = "quarantine_rows"
    }

    /// The sums over `etl_batches`, for a job summary.
    public struct Totals: Equatable, Sendable {
        /// Batches recorded.
        public var batches: Int64
        /// Records delivered by the extractor, over the batches where it is recorded.
        public var extracted: Int64
        /// Batches from before migration 006, whose extracted count is unknown (`rows_extracted`
        /// 0 although records were accounted for): not in `extracted`, not reconciled.
        public var batchesWithoutExtracted: Int64
        /// Fact rows inserted.
        public var loaded: Int64
        /// Records whose (pump, timestamp) was already there.
        public var duplicates: Int64
        /// Records dropped upstream (missing readings, exact duplicates).
        public var dropped: Int64
        /// Records set aside in quarantine.
        public var quarantined: Int64

        /// Totals with every field given.
        public init(batches: Int64, extracted: Int64, batchesWithoutExtracted: Int64, loaded: Int64,
                    duplicates: Int64, dropped: Int64, quarantined: Int64) {
            self.batches = batches
            self.extracted = extracted
            self.batchesWithoutExtracted = batchesWithoutExtracted
            self.loaded = loaded
            self.duplicates = duplicates
            self.dropped = dropped
            self.quarantined = quarantined
        }
    }

    /// `PRAGMA quick_check`'s verdict.
    public var quickCheck: Verdict
    /// Every row `PRAGMA quick_check` returned: `["ok"]` for a sound file.
    public var quickCheckFindings: [String]
    /// Batch ids are exactly 1…checkpoint.
    public var batchSequence: Verdict
    /// Each batch's counts add up.
    public var batchArithmetic: Verdict
    /// The fact table, `etl_batches` and the checkpoint agree on the rows loaded and dropped.
    public var loadedRows: Verdict
    /// `etl_batches` and `etl_quarantine` agree.
    public var quarantineRows: Verdict
    /// The sums over `etl_batches` (zero where a failing read left them unknown).
    public var totals: Totals

    /// A report with every field given.
    public init(quickCheck: Verdict, quickCheckFindings: [String], batchSequence: Verdict, batchArithmetic: Verdict,
                loadedRows: Verdict, quarantineRows: Verdict, totals: Totals) {
        self.quickCheck = quickCheck
        self.quickCheckFindings = quickCheckFindings
        self.batchSequence = batchSequence
        self.batchArithmetic = batchArithmetic
        self.loadedRows = loadedRows
        self.quarantineRows = quarantineRows
        self.totals = totals
    }

    /// The verdict of `check`.
    public subscript(check: Check) -> Verdict {
        switch check {
        case .quickCheck: quickCheck
        case .batchSequence: batchSequence
        case .batchArithmetic: batchArithmetic
        case .loadedRows: loadedRows
        case .quarantineRows: quarantineRows
        }
    }

    /// Whether every check passed.
    public var isClean: Bool { Check.allCases.allSatisfy { self[$0].isPassed } }

    /// The first failed check, in `Check` order.
    public var firstFailedCheck: Check? { Check.allCases.first { !self[$0].isPassed } }

    /// `check: reason` for the first failed check, e.g.
    /// `batch_sequence: batch 3 is missing (checkpoint at batch 5, 4 batches recorded)`; nil when clean.
    public var firstFailure: String? {
        guard let check = firstFailedCheck, case .failed(let reason) = self[check] else { return nil }
        return check.rawValue + ": " + reason
    }
}
