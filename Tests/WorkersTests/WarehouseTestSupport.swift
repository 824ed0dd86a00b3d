import Foundation
import Pipeline
import Wire
import Workers

/// A fresh directory for one test, removed (made writable first) when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-warehouse-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer {
        chmod(directory, 0o755)
        try? FileManager.default.removeItem(atPath: directory)
    }
    return try body(directory)
}

/// A record of `pump` at `hour` hours after 2024-01-01 00:00 UTC, with rolling means.
func makeRecord(_ pump: String, hour: Int64, flowRate: Double = 500) -> TelemetryRecord {
    TelemetryRecord(
        timestamp: 1_704_067_200 + hour * 3600, pumpID: pump,
        flowRate: flowRate, pressure: 5.1, vibration: 2.2, temperature: 44.5, failure: hour % 7 == 0 ? 1 : 0,
        vibrationRollingMean: 2.05, pressureRollingMean: 4.95)
}

/// A batch numbered `id` whose cursor is `cursor-<id>`.
func makeBatch(_ id: UInt64, _ records: [TelemetryRecord]) -> RecordBatch {
    RecordBatch(batchID: id, cursor: "cursor-\(id)", records: records)
}

/// The single integer a query returns, through a separate connection.
func queryInteger(_ path: String, _ sql: String) throws -> Int64 {
    let statement = try Database(path: path).prepare(sql)
    _ = try statement.step()
    return statement.int64(at: 0)
}

/// The first column of every row a query returns, as text, through a separate connection.
func queryStrings(_ path: String, _ sql: String) throws -> [String] {
    let statement = try Database(path: path).prepare(sql)
    var values: [String] = []
    while try statement.step() { values.append(statement.string(at: 0)) }
    return values
}

/// The bytes of a file, or nil if it does not exist.
func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

/// A connection handed to another thread: the hand-over is ordered by semaphores, so it is
/// never used from two threads at once.
final class ConnectionHandOver: @unchecked Sendable {
    let database: Database
    init(_ database: Database) { self.database = database }
}
