import Foundation
import Testing
import Pipeline
import Wire

/// A served JSON row back into a record, decoded by Foundation — independently of the
/// simulator's own writer and of the extractor's parser.
enum SimulatorRows {
    static func record(from row: [String: Any]) throws -> TelemetryRecord {
        func number(_ key: String) throws -> Double {
            try #require((row[key] as? NSNumber)?.doubleValue, "\(key) is not a number: \(String(describing: row[key]))")
        }
        let stamp = try #require(row["timestamp"] as? String)
        let date = try #require(ISO8601DateFormatter().date(from: stamp), "timestamp '\(stamp)'")
        return TelemetryRecord(
            timestamp: Int64(date.timeIntervalSince1970), pumpID: try #require(row["pump_id"] as? String),
            flowRate: try number("flow_rate"), pressure: try number("pressure"),
            vibration: try number("vibration"), temperature: try number("temperature"),
            failure: UInt8(try #require((row["failure"] as? NSNumber)?.intValue)))
    }

    /// Readings no pump can produce: negative flow, crushing pressure, below absolute zero.
    static func isImpossible(_ record: TelemetryRecord) -> Bool {
        record.flowRate < 0 || record.pressure >= 1e5 || record.temperature < -273.15
    }
}
