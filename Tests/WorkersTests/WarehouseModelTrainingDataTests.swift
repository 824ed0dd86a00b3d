import Foundation
import Testing
import Pipeline
import Wire
@testable import Workers

/// The trainer's reading side: the new tables' migrations, `trainingData()`, `watermark()`.
@Suite struct WarehouseModelTrainingDataTests {
    /// A record whose every value tells `pump` and `hour` apart.
    static func distinctRecord(_ pump: Int, hour: Int64) -> TelemetryRecord {
        let seed = Double(pump) * 100 + Double(hour)
        return TelemetryRecord(
            timestamp: 1_704_067_200 + hour * 3600, pumpID: String(format: "P_%03d", pump),
            flowRate: 500 + seed, pressure: 5 + seed / 1000, vibration: 2 + seed / 500, temperature: 40 + seed / 10,
            failure: hour % 3 == 0 ? 1 : 0, vibrationRollingMean: 2.5 + seed / 250, pressureRollingMean: 4.5 + seed / 125)
    }

    @Test func migrationsAddTheTrainerTablesOnceAndReopeningKeepsThem() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            // A warehouse from before the trainer: its three migrations only.
            do {
                _ = try Warehouse(path: path, busyTimeout: .seconds(1))
                try Database(path: path).execute("""
                    DROP TABLE ml_models; DROP TABLE ai_telemetry_predictions;
                    DELETE FROM schema_migrations WHERE name IN ('004_ml_models', '005_ai_telemetry_predictions',
                        '010_model_calibration')
                    """)
            }
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            let applied = "SELECT name || ' ' || applied_at FROM schema_migrations WHERE name >= '004' AND name < '006' ORDER BY rowid"
            let first = try queryStrings(path, applied)
            #expect(first.map { $0.prefix(while: { $0 != " " }) } == ["004_ml_models", "005_ai_telemetry_predictions"])
            _ = try warehouse.publish(model: WarehouseModelPublishTests.newModel(.rejected))
            _ = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try queryStrings(path, applied) == first)
            #expect(try queryInteger(path, "SELECT count(*) FROM ml_models") == 1)
            #expect(try queryStrings(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ml_models' AND sql IS NOT NULL")
                == ["ml_models_one_serving"])
        }
    }

    @Test func aPredictionsTableOfAnotherShapeIsRefusedUntouched() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            // What the Python original's to_sql left behind: an index column, no key, no model version.
            try Database(path: path).execute("""
                CREATE TABLE ai_telemetry_predictions ("index" INTEGER, timestamp TIMESTAMP, pump_id TEXT,
                    flow_rate FLOAT, pressure FLOAT, vibration FLOAT, temperature FLOAT,
                    ai_risk_score_percent FLOAT, ai_predicted_failure INTEGER)
                """)
            let before = fileBytes(path)
            #expect {
                try Warehouse(path: path, busyTimeout: .seconds(1))
            } throws: { error in
                guard let error = error as? WarehouseError, case .unexpectedShape(let table, _, let found) = error.code else {
                    return false
                }
                return table == "ai_telemetry_predictions" && found.hasPrefix("index INTEGER, timestamp TIMESTAMP")
            }
            #expect(fileBytes(path) == before)
        }
    }

    @Test func trainingDataReadsColumnsInKeyOrderWithTheWatermark() throws {
        try withTemporaryDirectory { directory in
            let warehouse = try Warehouse(path: directory + "/dwh.sqlite", busyTimeout: .seconds(1))
            #expect(try warehouse.watermark() == nil)
            let empty = try warehouse.trainingData()
            #expect(empty.count == 0 && empty.pumps.isEmpty && empty.columns.count == 6 && empty.watermark == nil)
            // Committed in source order (time, then pump); read back in key order (pump, then time).
            let batches = [(1, [(2, 0), (1, 0), (3, 0)]), (2, [(2, 1), (1, 1), (3, 1)]), (3, [(1, 2)])]
            for (id, keys) in batches {
                let records = keys.map { Self.distinctRecord($0.0, hour: Int64($0.1)) }
                _ = try warehouse.commit(makeBatch(UInt64(id), records), dropped: 0, windowState: [])
            }
            let data = try warehouse.trainingData()
            let expected = [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (3, 0), (3, 1)].map { Self.distinctRecord($0.0, hour: Int64($0.1)) }
            #expect(data.count == expected.count)
            #expect(data.pumps == ["P_001", "P_002", "P_003"])
            #expect(data.pumpIndices == [0, 0, 0, 1, 1, 2, 2])
            #expect((0..<data.count).map(data.pumpID(atRow:)) == expected.map(\.pumpID))
            #expect(data.timestamps == expected.map(\.timestamp))
            #expect(data.labels == expected.map(\.failure))
            #expect(data.columns == [
                expected.map(\.flowRate), expected.map(\.pressure), expected.map(\.vibration), expected.map(\.temperature),
                expected.map { $0.vibrationRollingMean! }, expected.map { $0.pressureRollingMean! },
            ])
            #expect(data.watermark == Watermark(batchID: 3, rowsLoaded: 7))
            #expect(try warehouse.watermark() == data.watermark)
            #expect(data.fingerprint.count == 32 && data.fingerprint != empty.fingerprint)
        }
    }

    @Test func fingerprintFollowsTheRowsNotHowTheyWereLoaded() throws {
        try withTemporaryDirectory { directory in
            let records = (1...4).flatMap { pump in (0..<5).map { Self.distinctRecord(pump, hour: Int64($0)) } }
            let one = try Warehouse(path: directory + "/one.sqlite", busyTimeout: .seconds(1))
            _ = try one.commit(makeBatch(1, records), dropped: 0, windowState: [])
            // The same rows, in other batches and another order.
            let otherPath = directory + "/other.sqlite"
            let other = try Warehouse(path: otherPath, busyTimeout: .seconds(1))
            _ = try other.commit(makeBatch(1, Array(records.reversed().prefix(7))), dropped: 0, windowState: [])
            _ = try other.commit(makeBatch(2, Array(records.reversed().dropFirst(7))), dropped: 3, windowState: [1])
            let reference = try one.trainingData().fingerprint
            #expect(try other.trainingData().fingerprint == reference)
            #expect(try one.trainingData().fingerprint == reference)

            let edits = [
                "UPDATE fact_telemetry_features SET pressure_rolling_mean = pressure_rolling_mean + 1e-9 WHERE pump_id = 'P_003' AND timestamp = '2024-01-01 02:00:00'",
                "UPDATE fact_telemetry_features SET failure = 1 - failure WHERE pump_id = 'P_004' AND timestamp = '2024-01-01 04:00:00'",
                "UPDATE fact_telemetry_features SET timestamp = '2024-01-01 05:00:00' WHERE pump_id = 'P_001' AND timestamp = '2024-01-01 04:00:00'",
                "UPDATE fact_telemetry_features SET pump_id = 'P_005' WHERE pump_id = 'P_004' AND timestamp = '2024-01-01 04:00:00'",
                "DELETE FROM fact_telemetry_features WHERE pump_id = 'P_002' AND timestamp = '2024-01-01 00:00:00'",
            ]
            var seen: Set<String> = [reference]
            for (index, edit) in edits.enumerated() {
                // Each edit on its own copy of the table.
                let copy = directory + "/edit-\(index).sqlite"
                try Database(path: otherPath).execute("VACUUM INTO '\(copy)'")
                try Database(path: copy).execute(edit)
                let changed = try Warehouse(path: copy, busyTimeout: .seconds(1)).trainingData().fingerprint
                #expect(!seen.contains(changed), "\(edit)")
                seen.insert(changed)
            }
            #expect(try other.trainingData().fingerprint == reference)
        }
    }

    @Test func aFailureFlagOtherThanZeroOrOneIsABadRow() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            _ = try warehouse.commit(makeBatch(1, [Self.distinctRecord(1, hour: 0), Self.distinctRecord(1, hour: 1)]), dropped: 0, windowState: [])
            try Database(path: path).execute("UPDATE fact_telemetry_features SET failure = 2 WHERE timestamp = '2024-01-01 01:00:00'")
            #expect(throws: WarehouseError(.badRow("P_001 at 2024-01-01 01:00:00: failure is 2, expected 0 or 1"), path: path)) {
                try warehouse.trainingData()
            }
            try Database(path: path).execute("UPDATE fact_telemetry_features SET failure = 1, vibration = 'loud'")
            #expect(throws: WarehouseError(.badRow("P_001 at 2024-01-01 00:00:00: vibration is not stored as REAL"), path: path)) {
                try warehouse.trainingData()
            }
        }
    }

    @Test func fnv1a128MatchesTheReferenceVectors() {
        #expect(FNV1a128().hex == "6c62272e07bb014262b821756295c58d")
        var hash = FNV1a128()
        hash.combine(UInt8(ascii: "a"))
        #expect(hash.hex == "d228cb696f1a8caf78912b704e4a8964")
        var text = FNV1a128()
        Array("foobar".utf8).withUnsafeBufferPointer { text.combine($0) }
        #expect(text.hex == "343e1662793c64bf6f0d3597ba446f18")
    }
}
