import Dispatch
import Foundation
import Testing
import Wire
import Workers

/// A second real connection holds the write lock (`BEGIN EXCLUSIVE`) while the warehouse commits.
@Suite(.timeLimit(.minutes(1))) struct WarehouseLockTests {
    @Test func commitWaitsForTheLockAndSucceedsOnceReleased() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let policy = LockPolicy(
                busyTimeout: .milliseconds(20), initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50),
                deadline: .seconds(30))
            let warehouse = try Warehouse(path: path, lockPolicy: policy)
            let blocker = try Database(path: path)
            // The holder writes one of the keys the batch carries: the commit must see it once it gets in.
            try blocker.execute("""
                BEGIN EXCLUSIVE;
                INSERT INTO fact_telemetry_features VALUES ('2024-01-01 00:00:00', 'P_001', 1, 1, 1, 1, 0, 1, 1, 0)
                """)
            let handOver = ConnectionHandOver(blocker)
            let blocked = DispatchSemaphore(value: 0)
            let released = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                // Released only once the commit has reported being blocked (or, if it never does, late
                // enough for the expectations below to fail rather than hang).
                _ = blocked.wait(timeout: .now() + 20)
                try? handOver.database.execute("COMMIT")
                released.signal()
            }
            var waits: [Duration] = []
            let outcome = try warehouse.commit(
                makeBatch(1, [makeRecord("P_001", hour: 0), makeRecord("P_002", hour: 0)]), dropped: 0, windowState: [3],
                onBlocked: { waited in
                    if waits.isEmpty { blocked.signal() }
                    waits.append(waited)
                })
            released.wait()
            #expect(!waits.isEmpty)
            #expect(waits == waits.sorted())
            #expect(outcome == .committed(inserted: 1, duplicates: 1))
            #expect(try warehouse.checkpoint()?.batchID == 1)
            #expect(try warehouse.rows().first?.flowRate == 1)  // the holder's row, kept
        }
    }

    @Test func commitGivesUpAtTheDeadlineHavingWrittenNothing() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let policy = LockPolicy(
                busyTimeout: .milliseconds(10), initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(20),
                deadline: .milliseconds(150))
            let warehouse = try Warehouse(path: path, lockPolicy: policy)
            let blocker = try Database(path: path)
            try blocker.execute("BEGIN EXCLUSIVE")
            let batch = makeBatch(1, [makeRecord("P_001", hour: 0)])
            var blockedCount = 0
            let clock = ContinuousClock()
            let start = clock.now
            #expect {
                try warehouse.commit(batch, dropped: 0, windowState: [], onBlocked: { _ in blockedCount += 1 })
            } throws: { error in
                guard let error = error as? WarehouseError, case .locked(let waited, let deadline) = error.code else {
                    return false
                }
                return waited >= .milliseconds(150) && deadline == .milliseconds(150)
                    && error.description.contains("locked") && error.description.contains("deadline 0.15 s")
                    && error.description.contains(path) && !error.description.contains("\n")
            }
            #expect(start.duration(to: clock.now) < .seconds(5))
            #expect(blockedCount >= 2)
            #expect(try warehouse.rowCount() == 0)
            #expect(try warehouse.checkpoint() == nil)

            try blocker.execute("ROLLBACK")
            #expect(try warehouse.commit(batch, dropped: 0, windowState: []) == .committed(inserted: 1, duplicates: 0))
        }
    }
}
