import Foundation
import Testing
import Pipeline
import Wire
import Workers

/// A warehouse made by an older version opens and migrates, keeping its rows.
@Suite struct WarehouseMigrationTests {
    /// The schema as versions before migration 006 created it, with their migrations recorded.
    static let schemaBefore006 = """
        CREATE TABLE schema_migrations (name TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);
        CREATE TABLE fact_telemetry_features (
            timestamp TEXT NOT NULL, pump_id TEXT NOT NULL,
            flow_rate REAL NOT NULL, pressure REAL NOT NULL, vibration REAL NOT NULL, temperature REAL NOT NULL,
            failure INTEGER NOT NULL,
            vibration_rolling_mean REAL NOT NULL, pressure_rolling_mean REAL NOT NULL,
            PRIMARY KEY (pump_id, timestamp)) WITHOUT ROWID;
        CREATE TABLE etl_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_batch_id INTEGER NOT NULL, cursor TEXT NOT NULL, window_state BLOB NOT NULL,
            rows_loaded INTEGER NOT NULL, rows_dropped INTEGER NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE etl_batches (
            batch_id INTEGER PRIMARY KEY, cursor TEXT NOT NULL,
            rows_inserted INTEGER NOT NULL, rows_duplicate INTEGER NOT NULL, rows_dropped INTEGER NOT NULL,
            committed_at TEXT NOT NULL);
        CREATE TABLE ml_models (
            version INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('serving', 'retired', 'rejected')), reason TEXT,
            parameters TEXT NOT NULL, metrics TEXT NOT NULL, row_count INTEGER NOT NULL,
            data_fingerprint TEXT NOT NULL, watermark_batch INTEGER NOT NULL, model BLOB NOT NULL);
        CREATE UNIQUE INDEX ml_models_one_serving ON ml_models (status) WHERE status = 'serving';
        CREATE TABLE ai_telemetry_predictions (
            timestamp TEXT NOT NULL, pump_id TEXT NOT NULL,
            flow_rate REAL NOT NULL, pressure REAL NOT NULL, vibration REAL NOT NULL, temperature REAL NOT NULL,
            ai_risk_score_percent REAL NOT NULL CHECK (ai_risk_score_percent BETWEEN 0 AND 100),
            ai_predicted_failure INTEGER NOT NULL CHECK (ai_predicted_failure IN (0, 1)),
            model_version INTEGER NOT NULL,
            PRIMARY KEY (pump_id, timestamp)) WITHOUT ROWID;
        INSERT INTO schema_migrations VALUES
            ('001_fact_telemetry_features', '2024-01-01 00:00:00'), ('002_etl_checkpoint', '2024-01-01 00:00:00'),
            ('003_etl_batches', '2024-01-01 00:00:00'), ('004_ml_models', '2024-01-01 00:00:00'),
            ('005_ai_telemetry_predictions', '2024-01-01 00:00:00');
        """

    /// Two batches as an older loader committed them: 3 rows (one a duplicate), 2 dropped.
    static let rowsBefore006 = """
        INSERT INTO fact_telemetry_features VALUES
            ('2024-01-01 00:00:00', 'P_001', 500, 5.1, 2.2, 44.5, 1, 2.05, 4.95),
            ('2024-01-01 01:00:00', 'P_001', 501, 5.2, 2.3, 44.6, 0, 2.10, 5.00),
            ('2024-01-01 00:00:00', 'P_002', 502, 5.3, 2.4, 44.7, 0, 2.20, 5.10);
        INSERT INTO etl_batches VALUES
            (1, 'cursor-1', 2, 0, 2, '2024-01-01 00:05:00'), (2, 'cursor-2', 1, 1, 0, '2024-01-01 00:06:00');
        INSERT INTO etl_checkpoint VALUES (1, 2, 'cursor-2', x'0102', 3, 2, '2024-01-01 00:06:00');
        """

    @Test func aWarehouseFromBefore006MigratesAndKeepsItsRows() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            try Database(path: path).execute(Self.schemaBefore006 + Self.rowsBefore006)
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try queryStrings(path, "SELECT name FROM schema_migrations ORDER BY rowid").last == "010_model_calibration")
            #expect(try queryStrings(path, """
                SELECT batch_id || ' ' || cursor || ' ' || rows_inserted || ' ' || rows_duplicate || ' ' || rows_dropped
                    || ' ' || committed_at || ' ' || rows_extracted || ' ' || rows_quarantined
                FROM etl_batches ORDER BY batch_id
                """) == ["1 cursor-1 2 0 2 2024-01-01 00:05:00 0 0", "2 cursor-2 1 1 0 2024-01-01 00:06:00 0 0"])
            #expect(try warehouse.rowCount() == 3)
            #expect(try warehouse.checkpoint() == Checkpoint(
                batchID: 2, position: SourcePosition(cursor: "cursor-2"), windowState: [1, 2], rowsLoaded: 3, rowsDropped: 2))
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_quarantine") == 0)

            // The chain goes on from the old checkpoint, now recording what was extracted.
            let outcome = try warehouse.commit(makeBatch(3, [makeRecord("P_003", hour: 0)]), dropped: 1, windowState: [3])
            #expect(outcome == .committed(inserted: 1, duplicates: 0))
            #expect(try queryInteger(path, "SELECT rows_extracted FROM etl_batches WHERE batch_id = 3") == 2)
            // Reopening migrates nothing more.
            _ = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try queryInteger(path, "SELECT count(*) FROM schema_migrations") == 10)
        }
    }

    /// A warehouse as CIDP left it before migration 007: a finished job's checkpoint says
    /// '<end-of-stream>' instead of a source position.
    static func warehouseBefore007(_ path: String, batches: [(cursor: String, extracted: Int)]) throws {
        let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
        for (index, batch) in batches.enumerated() {
            let id = UInt64(index + 1)
            let records = (0..<batch.extracted).map { makeRecord("P_00\(index)", hour: Int64($0)) }
            _ = try warehouse.commit(RecordBatch(batchID: id, cursor: batch.cursor, records: records), dropped: 0, windowState: [UInt8(id)])
        }
        try Database(path: path).execute("""
            ALTER TABLE fact_telemetry_features DROP COLUMN batch_id;
            ALTER TABLE etl_batches DROP COLUMN window_state;
            DROP TABLE etl_runs;
            ALTER TABLE etl_checkpoint DROP COLUMN cursor_skip;
            ALTER TABLE etl_batches DROP COLUMN cursor_skip;
            DELETE FROM schema_migrations WHERE name IN ('007_source_position', '008_etl_runs', '009_batch_lineage');
            """)
    }

    @Test func an007MigrationTurnsTheEndOfStreamMarkerIntoThePositionItStoodFor() throws {
        try withTemporaryDirectory { directory in
            // Two full pages, then the last page: 3 records asked with the second page's next cursor.
            let path = directory + "/dwh.sqlite"
            try Self.warehouseBefore007(path, batches: [("1000", 4), ("2000", 4), ("<end-of-stream>", 3)])
            #expect(try Warehouse.inspect(path: path)?.position == SourcePosition(cursor: "<end-of-stream>"))
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try warehouse.checkpoint()?.position == SourcePosition(cursor: "2000", skip: 3))
            #expect(try warehouse.checkpoint()?.windowState == [3])

            // A stream of one page: its position is the first page, after its records.
            let single = directory + "/single.sqlite"
            try Self.warehouseBefore007(single, batches: [("<end-of-stream>", 5)])
            #expect(try Warehouse(path: single, busyTimeout: .seconds(1)).checkpoint()?.position == SourcePosition(cursor: nil, skip: 5))

            // A checkpoint that was a real cursor (a --follow run) is left as it was.
            let follow = directory + "/follow.sqlite"
            try Self.warehouseBefore007(follow, batches: [("1000", 4), ("2000", 4)])
            #expect(try Warehouse(path: follow, busyTimeout: .seconds(1)).checkpoint()?.position == SourcePosition(cursor: "2000"))
        }
    }

    @Test func inspectingAWarehouseChangesNoByteAndLeavesNoFileBehind() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            try Self.warehouseBefore007(path, batches: [("1000", 4)])
            let before = fileBytes(path)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            #expect(try Warehouse.inspect(path: path)?.batchID == 1)
            #expect(fileBytes(path) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == files)
            // Not a warehouse: refused, still unchanged.
            let notes = directory + "/notes.sqlite"
            try "just notes\n".write(toFile: notes, atomically: true, encoding: .utf8)
            #expect(throws: WarehouseError.self) { try Warehouse.inspect(path: notes) }
            #expect(try String(contentsOfFile: notes, encoding: .utf8) == "just notes\n")
        }
    }

    @Test func theOldShapeOfEtlBatchesIsRefusedOnce006IsRecorded() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            try Database(path: path).execute(Self.schemaBefore006
                + "INSERT INTO schema_migrations VALUES ('006_etl_quarantine', '2024-01-01 00:00:00')")
            let before = fileBytes(path)
            #expect {
                try Warehouse(path: path, busyTimeout: .seconds(1))
            } throws: { error in
                guard let error = error as? WarehouseError, case .unexpectedShape(let table, let expected, _) = error.code else {
                    return false
                }
                return table == "etl_batches" && expected.hasSuffix("rows_extracted INTEGER NOT NULL, rows_quarantined INTEGER NOT NULL")
            }
            #expect(fileBytes(path) == before)
        }
    }

    @Test func theNewShapeOfEtlBatchesIsRefusedWhile006IsNotRecorded() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            // A new warehouse whose record of 006 was lost: adding the columns again would fail.
            _ = try Warehouse(path: path, busyTimeout: .seconds(1))
            try Database(path: path).execute("DELETE FROM schema_migrations WHERE name = '006_etl_quarantine'")
            #expect {
                try Warehouse(path: path, busyTimeout: .seconds(1))
            } throws: { error in
                guard let error = error as? WarehouseError, case .unexpectedShape(let table, let expected, let found) = error.code else {
                    return false
                }
                return table == "etl_batches" && expected.hasSuffix("committed_at TEXT NOT NULL, cursor_skip INTEGER NOT NULL, window_state BLOB")
                    && found.hasSuffix("rows_quarantined INTEGER NOT NULL, cursor_skip INTEGER NOT NULL, window_state BLOB")
            }
        }
    }

    @Test func aBackupFromBefore006VerifiesAndAfterItTheQuarantineTableIsRequired() throws {
        try withTemporaryDirectory { directory in
            let old = directory + "/old.sqlite"
            try Database(path: old).execute(Self.schemaBefore006 + Self.rowsBefore006)
            #expect(try Warehouse.verify(old).factRows == 3)

            let new = directory + "/new.sqlite"
            _ = try Warehouse(path: new, busyTimeout: .seconds(1))
            try Database(path: new).execute("DROP TABLE etl_quarantine")
            #expect(throws: WarehouseError(.verificationFailed("table 'etl_quarantine' is missing"), path: new)) {
                try Warehouse.verify(new)
            }
        }
    }
}
