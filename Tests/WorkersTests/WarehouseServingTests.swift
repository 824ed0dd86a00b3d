import Foundation
import Testing
import Pipeline
import Wire
@testable import Workers

/// The predictor's reads: `servingModelVersion()` and `rollingMeans(for:)`, against a warehouse
/// loaded the way the chain loads it (rows with the transformer's means, its window state in the checkpoint).
@Suite struct WarehouseServingTests {
    /// Ten hours of `P_001` with values that differ row to row, their means as the transformer
    /// computes them, committed in two batches; returns the windows after the last.
    static func load(_ warehouse: Warehouse) throws -> RollingWindows {
        var windows = RollingWindows()
        var records: [TelemetryRecord] = []
        for hour in Int64(0)..<10 {
            var record = makeRecord("P_001", hour: hour)
            record.vibration = 2 + Double(hour % 4) * 0.37
            record.pressure = 5 - Double(hour % 3) * 0.41
            windows.apply(to: &record)
            records.append(record)
            if hour == 4 || hour == 9 {
                _ = try warehouse.commit(makeBatch(UInt64(hour / 5 + 1), records), dropped: 0, windowState: windows.encoded())
                records = []
            }
        }
        return windows
    }

    static func reading(hour: Int64, vibration: Double, pressure: Double, pump: String = "P_001") -> ServingReading {
        ServingReading(pumpID: pump, timestamp: 1_704_067_200 + hour * 3600, vibration: vibration, pressure: pressure)
    }

    @Test func readingsAfterTheLastRowContinueTheTransformersWindowsInTimestampOrder() throws {
        try withTemporaryDirectory { directory in
            let warehouse = try Warehouse(path: directory + "/dwh.sqlite", busyTimeout: .seconds(1))
            var windows = try Self.load(warehouse)
            var next = [makeRecord("P_001", hour: 10), makeRecord("P_001", hour: 11)]
            next[0].vibration = 3.3; next[0].pressure = 4.1
            next[1].vibration = 1.7; next[1].pressure = 6.2
            for index in next.indices { windows.apply(to: &next[index]) }
            // Asked in reverse order: the windows still see hour 10 before hour 11.
            let means = try warehouse.rollingMeans(for: [Self.reading(hour: 11, vibration: 1.7, pressure: 6.2),
                                                         Self.reading(hour: 10, vibration: 3.3, pressure: 4.1)])
            #expect(means.map(\.vibration.bitPattern) == [next[1].vibrationRollingMean!.bitPattern, next[0].vibrationRollingMean!.bitPattern])
            #expect(means.map(\.pressure.bitPattern) == [next[1].pressureRollingMean!.bitPattern, next[0].pressureRollingMean!.bitPattern])
        }
    }

    @Test func aLoadedRowGetsItsStoredMeansAndAnEarlierReadingTheTwoRowsBeforeIt() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
            _ = try Self.load(warehouse)
            let stored = try warehouse.rows().first { $0.timestamp == 1_704_067_200 + 5 * 3600 }!
            let reader = try Warehouse(readingOnly: path, busyTimeout: .seconds(1))
            let same = try reader.rollingMeans(for: [Self.reading(hour: 5, vibration: stored.vibration, pressure: stored.pressure)])
            #expect(same[0].vibration.bitPattern == stored.vibrationRollingMean!.bitPattern)
            #expect(same[0].pressure.bitPattern == stored.pressureRollingMean!.bitPattern)
            // Other values at hour 5: hours 3 and 4, then the reading, from a fresh window.
            let rows = try warehouse.rows()
            let changed = try reader.rollingMeans(for: [Self.reading(hour: 5, vibration: 9, pressure: 1)])
            #expect(abs(changed[0].vibration - (rows[3].vibration + rows[4].vibration + 9) / 3) < 1e-12)
            #expect(abs(changed[0].pressure - (rows[3].pressure + rows[4].pressure + 1) / 3) < 1e-12)
            // The first hour has nothing before it; a pump never seen, nothing at all.
            let first = try reader.rollingMeans(for: [Self.reading(hour: 0, vibration: 7, pressure: 3),
                                                      Self.reading(hour: 0, vibration: 7, pressure: 3, pump: "P_999")])
            #expect(first.map(\.vibration) == [7, 7] && first.map(\.pressure) == [3, 3])
        }
    }

    @Test func theServingVersionIsNilUntilAModelServes() throws {
        try withTemporaryDirectory { directory in
            let warehouse = try Warehouse(path: directory + "/dwh.sqlite", busyTimeout: .seconds(1))
            #expect(try warehouse.servingModelVersion() == nil)
            _ = try warehouse.publish(model: WarehouseModelPublishTests.newModel(.rejected))
            #expect(try warehouse.servingModelVersion() == nil)
            #expect(try warehouse.rollingMeans(for: []).isEmpty)
        }
    }
}
