import Pipeline

extension Warehouse {
    /// A batch waiting for `commit(_:onBlocked:)`: its rows, the records dropped upstream, the
    /// transformer's window state after it, how many records the extractor delivered for it, and
    /// the integrity gates' quarantine, if they stopped it.
    public struct PendingBatch: Sendable {
        public var batch: RecordBatch
        public var dropped: Int
        public var windowState: [UInt8]
        /// Records that came in from the extractor for this batch, before any was dropped:
        /// `etl_batches.rows_extracted`. Reconciled by `integrityCheck()` with what became of them.
        public var extracted: Int
        /// When set, the batch is committed as quarantined: `batch.records` are neither
        /// validated nor inserted; `quarantine.records` are kept in `etl_quarantine`.
        public var quarantine: Quarantine?

        /// A batch; `extracted` defaults to the records accounted for: `dropped` plus the
        /// quarantined records, or plus `batch.records` when there is no quarantine.
        public init(batch: RecordBatch, dropped: Int, windowState: [UInt8], extracted: Int? = nil,
                    quarantine: Quarantine? = nil) {
            self.batch = batch
            self.dropped = dropped
            self.windowState = windowState
            self.extracted = extracted ?? (quarantine?.records.count ?? batch.records.count) + dropped
            self.quarantine = quarantine
        }
    }
}
