import Foundation
import Testing
import Pipeline
import Wire
import Workers

@Suite struct WarehouseTests {
    private let migrationNames = [
        "001_fact_telemetry_features", "002_etl_checkpoint", "003_etl_batches", "004_ml_models",
        "005_ai_telemetry_predictions", "006_etl_quarantine", "007_source_position", "008_etl_runs",
        "009_batch_lineage", "010_model_calibration",
    ]

    @Test func createsTheSchemaInWALAndRecordsMigrationsOnce() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            _ = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try queryStrings(path, "SELECT name FROM schema_migrations ORDER BY rowid") == migrationNames)
            let firstApplied = try queryStrings(path, "SELECT applied_at FROM schema_migrations ORDER BY rowid")
            #expect(try queryStrings(path, "PRAGMA journal_mode") == ["wal"])
            let tables = try queryStrings(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            #expect(tables == [
                "ai_telemetry_predictions", "etl_batches", "etl_checkpoint", "etl_quarantine", "etl_runs", "fact_telemetry_features",
                "ml_models", "schema_migrations", "sqlite_sequence",
            ])

            // A row written between the two opens must survive the second: nothing is re-created.
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            _ = try warehouse.commit(makeBatch(1, [makeRecord("P_001", hour: 0)]), dropped: 0, windowState: [])
            _ = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try queryStrings(path, "SELECT name FROM schema_migrations ORDER BY rowid") == migrationNames)
            #expect(try queryStrings(path, "SELECT applied_at FROM schema_migrations ORDER BY rowid") == firstApplied)
            #expect(try queryInteger(path, "SELECT count(*) FROM fact_telemetry_features") == 1)
        }
    }

    @Test func commitThenCheckpointRoundTripsAcrossReopen() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try warehouse.checkpoint() == nil)
            let records = [makeRecord("P_001", hour: 0), makeRecord("P_002", hour: 0), makeRecord("P_001", hour: 1)]
            let outcome = try warehouse.commit(makeBatch(7, records), dropped: 2, windowState: [1, 2, 0, 255])
            #expect(outcome == .committed(inserted: 3, duplicates: 0))
            let expected = Checkpoint(batchID: 7, position: SourcePosition(cursor: "cursor-7"), windowState: [1, 2, 0, 255], rowsLoaded: 3, rowsDropped: 2)
            #expect(try warehouse.checkpoint() == expected)
            #expect(try Warehouse(path: path, busyTimeout: .seconds(1)).checkpoint() == expected)
            #expect(try queryStrings(path, "SELECT batch_id || ' ' || cursor || ' ' || rows_inserted || ' ' || rows_duplicate || ' ' || rows_dropped FROM etl_batches")
                == ["7 cursor-7 3 0 2"])

            // Counts accumulate; an empty window state stays empty, not NULL.
            #expect(try warehouse.commit(makeBatch(8, [makeRecord("P_002", hour: 1)]), dropped: 1, windowState: []) == .committed(inserted: 1, duplicates: 0))
            #expect(try warehouse.checkpoint() == Checkpoint(batchID: 8, position: SourcePosition(cursor: "cursor-8"), windowState: [], rowsLoaded: 4, rowsDropped: 3))
            #expect(try warehouse.rowCount() == 4)
        }
    }

    @Test func aBatchAtOrBelowTheCheckpointIsNotAppliedAgain() throws {
        try withTemporaryDirectory { directory in
            let warehouse = try Warehouse(path: directory + "/dwh.sqlite", busyTimeout: .seconds(1))
            let batch = makeBatch(5, [makeRecord("P_001", hour: 0), makeRecord("P_002", hour: 0)])
            #expect(try warehouse.commit(batch, dropped: 1, windowState: [9]) == .committed(inserted: 2, duplicates: 0))
            let checkpoint = try warehouse.checkpoint()
            #expect(try warehouse.commit(batch, dropped: 1, windowState: [9]) == .alreadyCommitted)
            let older = makeBatch(4, [makeRecord("P_003", hour: 0)])
            #expect(try warehouse.commit(older, dropped: 0, windowState: [1]) == .alreadyCommitted)
            #expect(try warehouse.rowCount() == 2)
            #expect(try warehouse.checkpoint() == checkpoint)
        }
    }

    @Test func keysAlreadyPresentAreCountedAsDuplicatesAndKeepTheirFirstValues() throws {
        try withTemporaryDirectory { directory in
            let warehouse = try Warehouse(path: directory + "/dwh.sqlite", busyTimeout: .seconds(1))
            let first = [makeRecord("P_001", hour: 0), makeRecord("P_001", hour: 1), makeRecord("P_002", hour: 0)]
            _ = try warehouse.commit(makeBatch(1, first), dropped: 0, windowState: [])
            let second = [makeRecord("P_001", hour: 1, flowRate: 999), makeRecord("P_002", hour: 0, flowRate: 999),
                          makeRecord("P_002", hour: 1), makeRecord("P_003", hour: 0)]
            #expect(try warehouse.commit(makeBatch(2, second), dropped: 0, windowState: []) == .committed(inserted: 2, duplicates: 2))
            #expect(try warehouse.rowCount() == 5)
            #expect(try warehouse.checkpoint()?.rowsLoaded == 5)
            #expect(try warehouse.rows().filter { $0.flowRate == 999 }.isEmpty)
        }
    }

    @Test func aFailureMidwayLeavesNoRowsAndTheCheckpointUnchanged() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            _ = try warehouse.commit(makeBatch(1, [makeRecord("P_001", hour: 0)]), dropped: 0, windowState: [1])
            let checkpoint = try warehouse.checkpoint()
            // SQLite stores NaN as NULL: the third row violates NOT NULL after two rows went in.
            var records = (1...5).map { makeRecord("P_001", hour: Int64($0)) }
            records[2].flowRate = .nan
            #expect {
                try warehouse.commit(makeBatch(2, records), dropped: 3, windowState: [2])
            } throws: { error in
                guard let error = error as? WarehouseError, case .database(let cause) = error.code else { return false }
                return cause.resultCode == 1299  // SQLITE_CONSTRAINT_NOTNULL
                    && error.description.contains(path) && error.description.contains("INSERT INTO fact_telemetry_features")
                    && !error.description.contains("\n")
            }
            #expect(try warehouse.rowCount() == 1)
            #expect(try warehouse.checkpoint() == checkpoint)
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_batches") == 1)

            // No lock or transaction was left behind: the repaired batch commits.
            records[2].flowRate = 501
            #expect(try warehouse.commit(makeBatch(2, records), dropped: 3, windowState: [2]) == .committed(inserted: 5, duplicates: 0))
        }
    }

    @Test func aGroupCommitIsAllOrNothingAndEndsTheCheckpointAtItsLastBatch() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            let group = (1...3).map { id in
                Warehouse.PendingBatch(batch: makeBatch(UInt64(id), [makeRecord("P_001", hour: Int64(id))]),
                                       dropped: id, windowState: [UInt8(id)])
            }
            #expect(try warehouse.commit(group) == Array(repeating: .committed(inserted: 1, duplicates: 0), count: 3))
            let checkpoint = try #require(try warehouse.checkpoint())
            #expect(checkpoint.batchID == 3 && checkpoint.position == SourcePosition(cursor: "cursor-3") && checkpoint.windowState == [3])
            #expect(checkpoint.rowsLoaded == 3 && checkpoint.rowsDropped == 6)
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_batches") == 3)

            // A group whose second batch fails leaves nothing of the first either.
            var bad = makeRecord("P_002", hour: 1)
            bad.pressure = .nan
            let failing = [
                Warehouse.PendingBatch(batch: makeBatch(4, [makeRecord("P_002", hour: 0)]), dropped: 0, windowState: [4]),
                Warehouse.PendingBatch(batch: makeBatch(5, [bad]), dropped: 0, windowState: [5]),
            ]
            #expect(throws: WarehouseError.self) { try warehouse.commit(failing) }
            #expect(try warehouse.rowCount() == 3)
            #expect(try warehouse.checkpoint() == checkpoint)
            // Re-sent together with batches already in, only the new one is applied.
            #expect(try warehouse.commit([group[2], failing[0]]) == [.alreadyCommitted, .committed(inserted: 1, duplicates: 0)])
        }
    }

    @Test func recordsWithoutRollingMeansAreRefusedBeforeAnyWrite() throws {
        try withTemporaryDirectory { directory in
            let warehouse = try Warehouse(path: directory + "/dwh.sqlite", busyTimeout: .seconds(1))
            var bare = makeRecord("P_004", hour: 3)
            bare.pressureRollingMean = nil
            #expect {
                try warehouse.commit(makeBatch(1, [makeRecord("P_001", hour: 0), bare]), dropped: 0, windowState: [])
            } throws: { error in
                guard let error = error as? WarehouseError, case .invalidBatch(let why) = error.code else { return false }
                return why.contains("record 1") && why.contains("P_004")
            }
            #expect(try warehouse.rowCount() == 0)
            #expect(try warehouse.checkpoint() == nil)
        }
    }

    @Test func timestampsAreStoredAsPandasTextAndReadBackExactly() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            let cases: [(Int64, String)] = [
                (0, "1970-01-01 00:00:00"), (-1, "1969-12-31 23:59:59"),
                (951_782_400, "2000-02-29 00:00:00"), (1_709_210_096, "2024-02-29 12:34:56"),
                (4_107_542_399, "2100-02-28 23:59:59"), (-62_167_219_200, "0000-01-01 00:00:00"),
                (253_402_300_799, "9999-12-31 23:59:59"),
            ]
            let records = cases.enumerated().map { index, item in
                var record = makeRecord("P_\(index)", hour: 0)
                record.timestamp = item.0
                return record
            }
            _ = try warehouse.commit(makeBatch(1, records), dropped: 0, windowState: [])
            for (seconds, text) in cases {
                let index = cases.firstIndex { $0.0 == seconds }!
                #expect(try queryStrings(path, "SELECT timestamp FROM fact_telemetry_features WHERE pump_id = 'P_\(index)'") == [text])
            }
            #expect(try warehouse.rows() == records.sorted { $0.pumpID < $1.pumpID })
            #expect(try warehouse.rows(orderedBy: .timestampThenPump).map(\.timestamp) == cases.map(\.0).sorted())

            var outOfRange = makeRecord("P_9", hour: 0)
            outOfRange.timestamp = 253_402_300_800
            #expect(throws: WarehouseError.self) {
                try warehouse.commit(makeBatch(2, [outOfRange]), dropped: 0, windowState: [])
            }
        }
    }

    @Test func aTimestampThatIsNotPandasTextIsABadRow() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            for text in ["2024-02-30 00:00:00", "2024-01-01T00:00:00", "2024-01-01 24:00:00"] {
                try Database(path: path).execute("""
                    DELETE FROM fact_telemetry_features;
                    INSERT INTO fact_telemetry_features VALUES ('\(text)', 'P_001', 1, 1, 1, 1, 0, 1, 1, 0)
                    """)
                #expect {
                    try warehouse.rows()
                } throws: { error in
                    guard let error = error as? WarehouseError, case .badRow(let why) = error.code else { return false }
                    return why.contains(text)
                }
            }
        }
    }
}
