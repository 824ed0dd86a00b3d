import Foundation
import Testing
import Wire
import Workers

/// `integrityCheck()`: clean on a healthy warehouse; each way the ETL tables can disagree, and a
/// damaged file, is found and named.
@Suite struct WarehouseIntegrityTests {
    /// A warehouse holding `WarehouseQuarantineTests.mixedGroup()` and a batch of one new row and one duplicate.
    static func healthy(_ directory: String) throws -> (Warehouse, String) {
        let path = directory + "/dwh.sqlite"
        let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
        _ = try warehouse.commit(WarehouseQuarantineTests.mixedGroup())
        _ = try warehouse.commit(makeBatch(5, [makeRecord("P_001", hour: 0), makeRecord("P_005", hour: 0)]),
                                 dropped: 2, windowState: [5])
        return (warehouse, path)
    }

    @Test func aHealthyWarehouseIsCleanAndTotalled() throws {
        try withTemporaryDirectory { directory in
            #expect(try Warehouse(path: directory + "/empty.sqlite", busyTimeout: .seconds(1)).integrityCheck().isClean)
            let (warehouse, _) = try Self.healthy(directory)
            let report = try warehouse.integrityCheck()
            #expect(report.isClean && report.firstFailure == nil && report.firstFailedCheck == nil)
            #expect(report.quickCheckFindings == ["ok"])
            #expect(IntegrityReport.Check.allCases.allSatisfy { report[$0] == .passed })
            #expect(report.totals == IntegrityReport.Totals(
                batches: 5, extracted: 14, batchesWithoutExtracted: 0, loaded: 4, duplicates: 1, dropped: 6, quarantined: 3))
            #expect(try warehouse.batchTotals() == report.totals)
        }
    }

    @Test func batchesFromBefore006AreNotReconciledButCounted() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            try Database(path: path).execute(WarehouseMigrationTests.schemaBefore006 + WarehouseMigrationTests.rowsBefore006)
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            _ = try warehouse.commit(makeBatch(3, [makeRecord("P_003", hour: 0)]), dropped: 1, windowState: [3])
            let report = try warehouse.integrityCheck()
            #expect(report.isClean)
            #expect(report.totals == IntegrityReport.Totals(
                batches: 3, extracted: 2, batchesWithoutExtracted: 2, loaded: 4, duplicates: 1, dropped: 3, quarantined: 0))
        }
    }

    @Test func aFactRowDeletedBehindTheWarehousesBackIsFound() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, path) = try Self.healthy(directory)
            try Database(path: path).execute("DELETE FROM fact_telemetry_features WHERE pump_id = 'P_005'")
            let report = try warehouse.integrityCheck()
            #expect(!report.isClean)
            #expect(report.firstFailure == "loaded_rows: fact_telemetry_features has 3 rows, "
                + "etl_batches' rows_inserted sum to 4, the checkpoint's rows_loaded is 4")
            #expect(report.quickCheck == .passed && report.batchSequence == .passed && report.quarantineRows == .passed)
        }
    }

    @Test func aMissingOrExtraBatchRowIsFound() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, path) = try Self.healthy(directory)
            let outside = try Database(path: path)
            try outside.execute("DELETE FROM etl_batches WHERE batch_id = 3")
            var report = try warehouse.integrityCheck()
            #expect(report.firstFailedCheck == .batchSequence)
            #expect(report.firstFailure == "batch_sequence: batch 3 is missing (checkpoint at batch 5, 4 batches recorded)")
            // Its inserted row is unaccounted for, too.
            #expect(report.loadedRows != .passed)

            try outside.execute("DELETE FROM etl_batches WHERE batch_id = 1")
            report = try warehouse.integrityCheck()
            #expect(report.batchSequence == .failed("batch 1 is missing (checkpoint at batch 5, 3 batches recorded)"))

            try outside.execute("""
                INSERT INTO etl_batches (batch_id, cursor, rows_inserted, rows_duplicate, rows_dropped, committed_at)
                VALUES (1, 'cursor-1', 2, 0, 1, ''), (3, 'cursor-3', 1, 0, 0, ''), (9, 'cursor-9', 0, 0, 0, '')
                """)
            report = try warehouse.integrityCheck()
            #expect(report.batchSequence == .failed("batch 9 is outside 1...5 (checkpoint at batch 5, 6 batches recorded)"))
        }
    }

    @Test func aTamperedExtractedCountIsFound() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, path) = try Self.healthy(directory)
            try Database(path: path).execute("UPDATE etl_batches SET rows_extracted = rows_extracted + 4 WHERE batch_id IN (1, 4)")
            let report = try warehouse.integrityCheck()
            #expect(report.firstFailure == "batch_arithmetic: batch 1: 7 extracted but 2 inserted + 0 duplicate + "
                + "1 dropped + 0 quarantined = 3 (and 1 more batches)")
            #expect(report.batchSequence == .passed && report.loadedRows == .passed && report.quarantineRows == .passed)
        }
    }

    @Test func aQuarantineRowAndItsBatchMustGoTogether() throws {
        try withTemporaryDirectory { directory in
            let (warehouse, path) = try Self.healthy(directory)
            let outside = try Database(path: path)
            try outside.execute("DELETE FROM etl_quarantine WHERE batch_id = 2")
            var report = try warehouse.integrityCheck()
            #expect(report.firstFailure == "quarantine_rows: batch 2 has 2 quarantined records but no etl_quarantine row")

            try outside.execute("""
                INSERT INTO etl_quarantine (batch_id, gate, action, reason, record_count, records, quarantined_at)
                VALUES (2, 'schema', 'halt', 'x', 1, '[]', '')
                """)
            report = try warehouse.integrityCheck()
            #expect(report.quarantineRows == .failed("batch 2: rows_quarantined 2, etl_quarantine's record_count 1"))

            try outside.execute("""
                UPDATE etl_quarantine SET record_count = 2 WHERE batch_id = 2;
                INSERT INTO etl_quarantine (batch_id, gate, action, reason, record_count, records, quarantined_at)
                VALUES (5, 'schema', 'halt', 'x', 1, '[]', '')
                """)
            report = try warehouse.integrityCheck()
            #expect(report.quarantineRows == .failed("batch 5: rows_quarantined 0, etl_quarantine's record_count 1"))
            try outside.execute("UPDATE etl_quarantine SET batch_id = 6 WHERE batch_id = 5")
            report = try warehouse.integrityCheck()
            #expect(report.quarantineRows == .failed("etl_quarantine row for batch 6 has no etl_batches row"))
            #expect(report.firstFailedCheck == .quarantineRows)
        }
    }

    @Test func aDamagedPageIsFoundByQuickCheck() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            do {
                let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
                // Enough rows for the fact table to span many pages: its leaves fill the middle of the file.
                for id in 1...20 {
                    let records = (0..<500).map { makeRecord(String(format: "P_%03d", $0 % 50), hour: Int64(id * 10 + $0 / 50)) }
                    _ = try warehouse.commit(makeBatch(UInt64(id), records), dropped: 0, windowState: [])
                }
            }  // closed: the WAL is checkpointed into the file and removed
            var bytes = try #require(fileBytes(path))
            let pageSize = Int(try queryInteger(path, "PRAGMA page_size"))
            let pages = bytes.count / pageSize
            #expect(pages > 20)
            // One page in the middle: keep its b-tree header byte, scramble the cell pointers and cells.
            let middle = pageSize * (pages / 2)
            bytes.replaceSubrange((middle + 8)..<(middle + pageSize), with: Data(repeating: 0x5A, count: pageSize - 8))
            let copy = directory + "/damaged.sqlite"
            try bytes.write(to: URL(fileURLWithPath: copy))

            let report: IntegrityReport
            do {
                report = try Warehouse(path: copy, busyTimeout: .seconds(1)).integrityCheck()
            } catch {
                // Damage that stops the warehouse from opening is found too, one step earlier.
                Issue.record("the damaged copy did not open, so quick_check was not reached: \(error)")
                return
            }
            #expect(!report.isClean)
            #expect(report.firstFailedCheck == .quickCheck)
            #expect(report.quickCheckFindings != ["ok"] && !report.quickCheckFindings.isEmpty)
            // SQLite's findings may span lines ("*** in database main ***\nPage 120: …"); the reason is one.
            guard case .failed(let reason) = report.quickCheck else { return }
            #expect(reason.contains("Page ") && !reason.contains("\n"))
            #expect(report.firstFailure?.hasPrefix("quick_check: ") == true)
        }
    }
}
