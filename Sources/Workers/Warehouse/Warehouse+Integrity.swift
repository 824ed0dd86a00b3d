import CSQLite

/// The integrity check run before training: SQLite's `quick_check` of the file, and the ETL
/// tables reconciled with each other (`IntegrityReport.Check`).
extension Warehouse {
    /// Checks the warehouse, reading only, in one read transaction (one snapshot: the loader may
    /// keep committing meanwhile without making the counts disagree):
    ///
    /// 1. `PRAGMA quick_check`, every row it returns (`ok` alone means sound);
    /// 2. the batch ids in `etl_batches` are exactly 1…the checkpoint's `last_batch_id`;
    /// 3. per batch, `rows_extracted = rows_inserted + rows_duplicate + rows_dropped +
    ///    rows_quarantined` — skipped for a batch with `rows_extracted = 0`: batches committed
    ///    before migration 006 read 0 there (unknown; counted in `Totals.batchesWithoutExtracted`
    ///    when they accounted for records), and `commit` refuses to store 0 for a batch with records;
    /// 4. `count(*)` of the fact table = SUM(rows_inserted) = the checkpoint's `rows_loaded`, and
    ///    SUM(rows_dropped) = its `rows_dropped`;
    /// 5. every batch with `rows_quarantined > 0` has its `etl_quarantine` row with that
    ///    `record_count` and no inserted or duplicate row; every `etl_quarantine` row has its batch.
    ///
    /// A check that meets a corrupt page fails with SQLite's message instead of throwing. Costs
    /// one pass over the file for `quick_check` and one over the fact table for `count(*)`
    /// (`docs/WAREHOUSE.md` has the times at a million rows). Retried like `commit` while
    /// another connection holds an exclusive lock.
    /// - Throws: `WarehouseError`: `.locked` past the lock policy's deadline, `.database` for
    ///   any failure other than corruption.
    /// - Parameter thorough: `PRAGMA integrity_check` instead of `quick_check` (also every index
    ///   against its table: about 1.4× the time, `docs/BENCHMARKS.md`): what the trainer runs
    ///   before every training.
    public func integrityCheck(thorough: Bool = false,
                               onBlocked: (_ waited: Duration) -> Void = { _ in }) throws(WarehouseError) -> IntegrityReport {
        try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) -> IntegrityReport in
            try db.transaction(.deferred, wrapping: { WarehouseError($0, path: path) }) {
                () throws(WarehouseError) -> IntegrityReport in
                try Self.sqlite(path) { () throws(DatabaseError) -> IntegrityReport in try checkIntegrity(thorough: thorough) }
            }
        }
    }

    /// SQLite's own check of the file alone (`PRAGMA quick_check`, or `integrity_check` when
    /// `thorough`): what every worker runs when it opens the warehouse, so that nothing is
    /// written to, or trained on, a file SQLite finds malformed.
    /// - Returns: nil when sound, else the first finding on one line (`unreadable: …` when a
    ///   corrupt page stops the check itself).
    /// - Throws: `WarehouseError` for any failure other than corruption (a lock, an I/O error).
    public func fileCheck(thorough: Bool = false) throws(WarehouseError) -> String? {
        try Self.sqlite(path) { () throws(DatabaseError) -> String? in
            var findings: [String] = []
            let verdict = try unlessCorrupt { () throws(DatabaseError) -> IntegrityReport.Verdict in
                try Self.runFileCheck(db, thorough: thorough, into: &findings)
            }
            if case .failed(let reason) = verdict { return reason }
            return nil
        }
    }

    /// Runs `PRAGMA quick_check` or `integrity_check`, every row it returns into `findings`.
    private static func runFileCheck(_ db: Database, thorough: Bool, into findings: inout [String])
        throws(DatabaseError) -> IntegrityReport.Verdict {
        let check = try db.prepare(thorough ? "PRAGMA integrity_check" : "PRAGMA quick_check")
        while try check.step() { findings.append(check.string(at: 0)) }
        guard findings != ["ok"] else { return .passed }
        guard let first = findings.first else { return .failed("no answer") }
        // A finding may span lines (`*** in database main ***` then the page): the reason is one.
        let line = first.split(whereSeparator: \.isNewline).joined(separator: " ")
        return .failed("\(line) (\(findings.count) finding\(findings.count == 1 ? "" : "s"))")
    }

    /// The sums over `etl_batches` alone, without any check: one pass over a row per batch,
    /// cheap enough for a job summary (`integrityCheck()` reads the whole file).
    /// - Throws: `WarehouseError.Code.database`.
    public func batchTotals() throws(WarehouseError) -> IntegrityReport.Totals {
        try Self.sqlite(path) { () throws(DatabaseError) in try readLedger().totals }
    }

    /// The sums and counts over `etl_batches` and the checkpoint the reconciliation starts from.
    private struct Ledger {
        var totals = IntegrityReport.Totals(batches: 0, extracted: 0, batchesWithoutExtracted: 0, loaded: 0,
                                            duplicates: 0, dropped: 0, quarantined: 0)
        var lowestID: Int64 = 0
        var highestID: Int64 = 0
        var arithmeticMismatches: Int64 = 0
        var checkpointBatch: Int64 = 0
        var checkpointLoaded: Int64 = 0
        var checkpointDropped: Int64 = 0
    }

    /// The body of `integrityCheck`'s transaction.
    private func checkIntegrity(thorough: Bool) throws(DatabaseError) -> IntegrityReport {
        var findings: [String] = []
        let quickCheck = try unlessCorrupt { () throws(DatabaseError) -> IntegrityReport.Verdict in
            try Self.runFileCheck(db, thorough: thorough, into: &findings)
        }
        if case .failed(let reason) = quickCheck, findings.isEmpty { findings = [reason] }

        var ledger: Ledger?
        let ledgerFailure = try unlessCorrupt { () throws(DatabaseError) -> IntegrityReport.Verdict in
            ledger = try readLedger()
            return .passed
        }
        guard let ledger else {
            // The counts every reconciliation needs cannot be read: each fails with that reason.
            return IntegrityReport(
                quickCheck: quickCheck, quickCheckFindings: findings, batchSequence: ledgerFailure,
                batchArithmetic: ledgerFailure, loadedRows: ledgerFailure, quarantineRows: ledgerFailure,
                totals: Ledger().totals)
        }
        return IntegrityReport(
            quickCheck: quickCheck, quickCheckFindings: findings,
            batchSequence: try unlessCorrupt { () throws(DatabaseError) in try checkBatchSequence(ledger) },
            batchArithmetic: try unlessCorrupt { () throws(DatabaseError) in try checkBatchArithmetic(ledger) },
            loadedRows: try unlessCorrupt { () throws(DatabaseError) in try checkLoadedRows(ledger) },
            quarantineRows: try unlessCorrupt { () throws(DatabaseError) in try checkQuarantineRows() },
            totals: ledger.totals)
    }

    /// Runs one check; a corrupt page (or a damaged header) met on the way is its failure.
    private func unlessCorrupt(
        _ check: () throws(DatabaseError) -> IntegrityReport.Verdict
    ) throws(DatabaseError) -> IntegrityReport.Verdict {
        do {
            return try check()
        } catch where error.primaryCode == SQLITE_CORRUPT || error.primaryCode == SQLITE_NOTADB {
            return .failed("unreadable: \(error.message)")
        }
    }

    private func readLedger() throws(DatabaseError) -> Ledger {
        var ledger = Ledger()
        // `x = 0 AND …`: 1 or 0, so SUM counts the rows where it holds.
        let sums = try db.prepare("""
            SELECT count(*), coalesce(min(batch_id), 0), coalesce(max(batch_id), 0),
                total(rows_extracted), total(rows_inserted), total(rows_duplicate), total(rows_dropped),
                total(rows_quarantined),
                total(rows_extracted = 0 AND rows_inserted + rows_duplicate + rows_dropped + rows_quarantined > 0),
                total(rows_extracted <> 0
                      AND rows_extracted <> rows_inserted + rows_duplicate + rows_dropped + rows_quarantined)
            FROM etl_batches
            """)
        _ = try sums.step()
        ledger.totals = IntegrityReport.Totals(
            batches: sums.int64(at: 0), extracted: sums.int64(at: 3), batchesWithoutExtracted: sums.int64(at: 8),
            loaded: sums.int64(at: 4), duplicates: sums.int64(at: 5), dropped: sums.int64(at: 6),
            quarantined: sums.int64(at: 7))
        ledger.lowestID = sums.int64(at: 1)
        ledger.highestID = sums.int64(at: 2)
        ledger.arithmeticMismatches = sums.int64(at: 9)
        let checkpoint = try db.prepare("SELECT last_batch_id, rows_loaded, rows_dropped FROM etl_checkpoint")
        if try checkpoint.step() {
            ledger.checkpointBatch = checkpoint.int64(at: 0)
            ledger.checkpointLoaded = checkpoint.int64(at: 1)
            ledger.checkpointDropped = checkpoint.int64(at: 2)
        }
        return ledger
    }

    /// Batch ids are unique (the key), so `count = last` with every id in 1…last means all of them.
    private func checkBatchSequence(_ ledger: Ledger) throws(DatabaseError) -> IntegrityReport.Verdict {
        let last = ledger.checkpointBatch, count = ledger.totals.batches
        if count == last, count == 0 || (ledger.lowestID >= 1 && ledger.highestID <= last) { return .passed }
        let context = "(checkpoint at batch \(last), \(count) batch\(count == 1 ? "" : "es") recorded)"
        let missing = try db.prepare("""
            SELECT 1 WHERE ?1 >= 1 AND NOT EXISTS (SELECT 1 FROM etl_batches WHERE batch_id = 1)
            UNION ALL
            SELECT * FROM (SELECT b.batch_id + 1 FROM etl_batches b
                WHERE b.batch_id >= 1 AND b.batch_id < ?1
                    AND NOT EXISTS (SELECT 1 FROM etl_batches n WHERE n.batch_id = b.batch_id + 1)
                ORDER BY b.batch_id LIMIT 1)
            ORDER BY 1 LIMIT 1
            """)
        try missing.bind(last, at: 1)
        if try missing.step() { return .failed("batch \(missing.int64(at: 0)) is missing \(context)") }
        let extra = try db.prepare("SELECT batch_id FROM etl_batches WHERE batch_id < 1 OR batch_id > ? ORDER BY batch_id LIMIT 1")
        try extra.bind(last, at: 1)
        if try extra.step() { return .failed("batch \(extra.int64(at: 0)) is outside 1...\(last) \(context)") }
        return .failed("batch ids are not 1...\(last) \(context)")
    }

    private func checkBatchArithmetic(_ ledger: Ledger) throws(DatabaseError) -> IntegrityReport.Verdict {
        guard ledger.arithmeticMismatches > 0 else { return .passed }
        let first = try db.prepare("""
            SELECT batch_id, rows_extracted, rows_inserted, rows_duplicate, rows_dropped, rows_quarantined
            FROM etl_batches
            WHERE rows_extracted <> 0
                AND rows_extracted <> rows_inserted + rows_duplicate + rows_dropped + rows_quarantined
            ORDER BY batch_id LIMIT 1
            """)
        guard try first.step() else { return .passed }
        let (inserted, duplicate, dropped, quarantined) = (first.int64(at: 2), first.int64(at: 3), first.int64(at: 4), first.int64(at: 5))
        let others = ledger.arithmeticMismatches - 1
        return .failed("batch \(first.int64(at: 0)): \(first.int64(at: 1)) extracted but \(inserted) inserted + "
            + "\(duplicate) duplicate + \(dropped) dropped + \(quarantined) quarantined = "
            + "\(inserted + duplicate + dropped + quarantined)" + (others > 0 ? " (and \(others) more batches)" : ""))
    }

    private func checkLoadedRows(_ ledger: Ledger) throws(DatabaseError) -> IntegrityReport.Verdict {
        let count = try db.prepare("SELECT count(*) FROM fact_telemetry_features")
        _ = try count.step()
        let rows = count.int64(at: 0), inserted = ledger.totals.loaded
        guard rows == inserted, ledger.checkpointLoaded == inserted else {
            return .failed("fact_telemetry_features has \(rows) rows, etl_batches' rows_inserted sum to \(inserted), "
                + "the checkpoint's rows_loaded is \(ledger.checkpointLoaded)")
        }
        guard ledger.checkpointDropped == ledger.totals.dropped else {
            return .failed("etl_batches' rows_dropped sum to \(ledger.totals.dropped), "
                + "the checkpoint's rows_dropped is \(ledger.checkpointDropped)")
        }
        return .passed
    }

    private func checkQuarantineRows() throws(DatabaseError) -> IntegrityReport.Verdict {
        let batches = try db.prepare("""
            SELECT b.batch_id, b.rows_quarantined, b.rows_inserted + b.rows_duplicate, q.record_count
            FROM etl_batches b LEFT JOIN etl_quarantine q ON q.batch_id = b.batch_id
            WHERE b.rows_quarantined <> 0
                AND (q.batch_id IS NULL OR q.record_count <> b.rows_quarantined OR b.rows_inserted + b.rows_duplicate <> 0)
            ORDER BY b.batch_id LIMIT 1
            """)
        if try batches.step() {
            let id = batches.int64(at: 0), quarantined = batches.int64(at: 1)
            if batches.isNull(at: 3) {
                return .failed("batch \(id) has \(quarantined) quarantined records but no etl_quarantine row")
            }
            if batches.int64(at: 3) != quarantined {
                return .failed("batch \(id): rows_quarantined \(quarantined), etl_quarantine's record_count \(batches.int64(at: 3))")
            }
            return .failed("batch \(id) is quarantined but has \(batches.int64(at: 2)) fact rows inserted or duplicate")
        }
        let orphans = try db.prepare("""
            SELECT q.batch_id, q.record_count, b.batch_id IS NULL, b.rows_quarantined
            FROM etl_quarantine q LEFT JOIN etl_batches b ON b.batch_id = q.batch_id
            WHERE b.batch_id IS NULL OR b.rows_quarantined <> q.record_count
            ORDER BY q.batch_id LIMIT 1
            """)
        if try orphans.step() {
            let id = orphans.int64(at: 0)
            if orphans.int64(at: 2) != 0 { return .failed("etl_quarantine row for batch \(id) has no etl_batches row") }
            return .failed("batch \(id): rows_quarantined \(orphans.int64(at: 3)), etl_quarantine's record_count \(orphans.int64(at: 1))")
        }
        return .passed
    }
}
