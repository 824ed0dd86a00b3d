import Foundation
import Testing
import Pipeline
import Wire
import Workers

/// Batches the integrity gates set aside: committed with the group, stored with their records,
/// halts listed and resumed.
@Suite(.timeLimit(.minutes(1))) struct WarehouseQuarantineTests {
    /// Raw records as the extractor delivers them (no rolling means), one reading NaN and two infinite.
    static func poisonRecords() -> [TelemetryRecord] {
        var first = makeRecord("P_007", hour: 10)
        (first.vibrationRollingMean, first.pressureRollingMean) = (nil, nil)
        first.pressure = .nan
        var second = makeRecord("P_008", hour: 10, flowRate: .infinity)
        (second.vibrationRollingMean, second.pressureRollingMean) = (nil, nil)
        second.temperature = -.infinity
        return [first, second]
    }

    static func quarantine(_ action: QuarantineAction, gate: String = "schema", records: [TelemetryRecord] = poisonRecords(),
                           evidence: String? = nil) -> Quarantine {
        Quarantine(gate: gate, action: action, reason: "\(gate) gate: bad readings", evidence: evidence, records: records)
    }

    /// Batch 1 normal, 2 quarantined (halt), 3 normal, 4 quarantined (continue), as one group.
    static func mixedGroup() -> [Warehouse.PendingBatch] {
        [
            Warehouse.PendingBatch(batch: makeBatch(1, [makeRecord("P_001", hour: 0), makeRecord("P_002", hour: 0)]),
                                   dropped: 1, windowState: [1]),
            Warehouse.PendingBatch(batch: makeBatch(2, []), dropped: 3, windowState: [2],
                                   quarantine: quarantine(.halt, evidence: "signal 11 in transformer")),
            Warehouse.PendingBatch(batch: makeBatch(3, [makeRecord("P_001", hour: 1)]), dropped: 0, windowState: [3],
                                   extracted: 1),
            Warehouse.PendingBatch(batch: makeBatch(4, []), dropped: 0, windowState: [4],
                                   quarantine: quarantine(.quarantineAndContinue, gate: "range",
                                                          records: [makeRecord("P_003", hour: 2)])),
        ]
    }

    @Test func aGroupMixingNormalAndQuarantinedBatchesCommitsTogether() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try warehouse.commit(Self.mixedGroup()) == [
                .committed(inserted: 2, duplicates: 0), .quarantined(records: 2, action: .halt),
                .committed(inserted: 1, duplicates: 0), .quarantined(records: 1, action: .quarantineAndContinue),
            ])
            #expect(try warehouse.rowCount() == 3)
            #expect(try warehouse.checkpoint() == Checkpoint(
                batchID: 4, position: SourcePosition(cursor: "cursor-4"), windowState: [4], rowsLoaded: 3, rowsDropped: 4))
            #expect(try queryStrings(path, """
                SELECT batch_id || ':' || rows_extracted || '=' || rows_inserted || '+' || rows_duplicate || '+'
                    || rows_dropped || '+' || rows_quarantined
                FROM etl_batches ORDER BY batch_id
                """) == ["1:3=2+0+1+0", "2:5=0+0+3+2", "3:1=1+0+0+0", "4:1=0+0+0+1"])
            let entries = try warehouse.quarantine(limit: 10)
            #expect(entries.map(\.batchID) == [4, 2])
            let halt = try #require(entries.last)
            #expect(halt.gate == "schema" && halt.action == .halt && halt.reason == "schema gate: bad readings")
            #expect(halt.evidence == "signal 11 in transformer" && halt.recordCount == 2 && halt.resumedAt == nil)
            #expect(halt.quarantinedAt.count == 19 && halt.quarantinedAt.hasPrefix("20"))
            #expect(entries.first?.evidence == nil)
            #expect(try warehouse.quarantine(limit: 1).map(\.batchID) == [4])
            #expect(try warehouse.quarantine(limit: 0).isEmpty)
        }
    }

    @Test func aFailureAnywhereInTheGroupRollsBackTheQuarantinedBatchesToo() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            var group = Self.mixedGroup()
            // A NaN that reached the normal path fails the fact table's NOT NULL inside the transaction.
            group[2].batch.records[0].pressure = .nan
            #expect(throws: WarehouseError.self) { try warehouse.commit(group) }
            #expect(try warehouse.checkpoint() == nil)
            #expect(try warehouse.rowCount() == 0)
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_quarantine") == 0)
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_batches") == 0)

            // A batch refused before any SQL refuses the whole group.
            group = Self.mixedGroup()
            group[3].quarantine?.records = []
            #expect {
                try warehouse.commit(group)
            } throws: { error in
                (error as? WarehouseError)?.code == .invalidBatch("batch 4: quarantine by gate 'range' without records")
            }
            group = Self.mixedGroup()
            group[0].batch.records[1].pressureRollingMean = nil
            #expect(throws: WarehouseError.self) { try warehouse.commit(group) }
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_quarantine") == 0)

            // 0 extracted reads as "not recorded": refused for a batch with records.
            group = Self.mixedGroup()
            group[2].extracted = 0
            #expect {
                try warehouse.commit(group)
            } throws: { error in
                (error as? WarehouseError)?.code == .invalidBatch("batch 3: extracted count 0 for 1 records accounted for")
            }
            #expect(try warehouse.checkpoint() == nil)

            // Nothing was left half-done: the same group commits whole.
            #expect(try warehouse.commit(Self.mixedGroup()).count == 4)
            #expect(try queryInteger(path, "SELECT count(*) FROM etl_quarantine") == 2)
        }
    }

    @Test func quarantinedRecordsAreStoredLaidOutLikeTheAPIs() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            var records = Self.poisonRecords()
            records.append(TelemetryRecord(  // transformed: with means; an odd id; a time no text can hold
                timestamp: 300_000_000_000, pumpID: "P_\"9\"", flowRate: 0.1 + 0.2, pressure: -0.0, vibration: 1e-300,
                temperature: 12.5, failure: 7, vibrationRollingMean: 2.25, pressureRollingMean: .nan))
            _ = try warehouse.commit([Warehouse.PendingBatch(
                batch: makeBatch(1, []), dropped: 0, windowState: [], quarantine: Self.quarantine(.halt, records: records))])
            let json = try #require(try warehouse.quarantinedRecords(batchID: 1))
            #expect(json == """
                [{"timestamp":"2024-01-01T10:00:00Z","pump_id":"P_007","flow_rate":500,"pressure":null,\
                "vibration":2.2,"temperature":44.5,"failure":0},\
                {"timestamp":"2024-01-01T10:00:00Z","pump_id":"P_008","flow_rate":"Infinity","pressure":5.1,\
                "vibration":2.2,"temperature":"-Infinity","failure":0},\
                {"timestamp":300000000000,"pump_id":"P_\\"9\\"","flow_rate":0.30000000000000004,"pressure":-0.0,\
                "vibration":1e-300,"temperature":12.5,"failure":7,"vibration_rolling_mean":2.25,"pressure_rolling_mean":null}]
                """)
            // Valid JSON that reads back to the values.
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            #expect(parsed.count == 3)
            #expect(parsed[0]["pressure"] is NSNull && parsed[1]["flow_rate"] as? String == "Infinity")
            #expect(parsed[2]["pump_id"] as? String == "P_\"9\"" && parsed[2]["timestamp"] as? Int == 300_000_000_000)
            #expect(try warehouse.quarantinedRecords(batchID: 2) == nil)
        }
    }

    @Test func reCommittingTheSameIdsChangesNothing() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            _ = try warehouse.commit(Self.mixedGroup())
            let snapshot = """
                SELECT group_concat(batch_id || gate || action || reason || record_count || records || quarantined_at, '|')
                FROM etl_quarantine
                """
            let before = try queryStrings(path, snapshot)
            let batchesBefore = try queryStrings(path, "SELECT group_concat(batch_id || committed_at || rows_extracted) FROM etl_batches")
            let checkpoint = try warehouse.checkpoint()

            var resent = Self.mixedGroup()
            resent[1].quarantine?.reason = "a different verdict the second time"
            #expect(try warehouse.commit(resent) == Array(repeating: .alreadyCommitted, count: 4))
            #expect(try queryStrings(path, snapshot) == before)
            #expect(try queryStrings(path, "SELECT group_concat(batch_id || committed_at || rows_extracted) FROM etl_batches")
                == batchesBefore)
            #expect(try warehouse.checkpoint() == checkpoint)
            #expect(try warehouse.rowCount() == 3)
        }
    }

    @Test func openHaltsAreListedUntilResumed() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            #expect(try warehouse.openHalts().isEmpty)
            #expect(try warehouse.resumeHalts() == 0)
            _ = try warehouse.commit(Self.mixedGroup())
            _ = try warehouse.commit([Warehouse.PendingBatch(
                batch: makeBatch(5, []), dropped: 0, windowState: [], quarantine: Self.quarantine(.halt, gate: "poison_pill"))])
            #expect(try warehouse.openHalts().map(\.batchID) == [2, 5])
            #expect(try warehouse.openHalts().allSatisfy(\.isOpenHalt))

            // 2024-01-02 03:04:05 UTC.
            #expect(try warehouse.resumeHalts(at: 1_704_164_645) == 2)
            #expect(try warehouse.openHalts().isEmpty)
            let entries = try warehouse.quarantine(limit: 10)
            #expect(entries.map(\.batchID) == [5, 4, 2])
            #expect(entries.map(\.resumedAt) == ["2024-01-02 03:04:05", nil, "2024-01-02 03:04:05"])
            #expect(try warehouse.resumeHalts() == 0)

            _ = try warehouse.commit([Warehouse.PendingBatch(
                batch: makeBatch(6, []), dropped: 0, windowState: [], quarantine: Self.quarantine(.halt))])
            #expect(try warehouse.resumeHalts() == 1)
            let resumed = try #require(try warehouse.quarantine(limit: 1).first?.resumedAt)
            #expect(resumed.count == 19 && resumed.hasPrefix("20"))
        }
    }

    @Test func resumingWaitsOutALockAndGivesUpAtTheDeadlineWhileOpenHaltsStillAnswer() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let policy = LockPolicy(
                busyTimeout: .milliseconds(10), initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(20),
                deadline: .milliseconds(150))
            let warehouse = try Warehouse(path: path, lockPolicy: policy)
            _ = try warehouse.commit(Self.mixedGroup())
            let blocker = try Database(path: path)
            try blocker.execute("BEGIN EXCLUSIVE")
            var blockedCount = 0
            #expect {
                try warehouse.resumeHalts(onBlocked: { _ in blockedCount += 1 })
            } throws: { error in
                guard let error = error as? WarehouseError, case .locked = error.code else { return false }
                return true
            }
            #expect(blockedCount >= 2)
            // In WAL mode a writer's lock does not stop readers.
            #expect(try warehouse.openHalts().map(\.batchID) == [2])
            try blocker.execute("ROLLBACK")
            #expect(try warehouse.resumeHalts() == 1)
        }
    }
}
