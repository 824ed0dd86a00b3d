import Foundation
import Workers

/// One reading to score, checked: `pump_id`, `timestamp` (RFC 3339), the four readings, and the
/// rolling means when the client sent them.
struct PredictionReading: Equatable, Sendable {
    var pumpID: String
    /// Unix seconds, UTC (sub-second digits dropped).
    var timestamp: Int64
    var flowRate: Double
    var pressure: Double
    var vibration: Double
    var temperature: Double
    var vibrationRollingMean: Double?
    var pressureRollingMean: Double?
}

/// What is wrong with a request body, for a `400`: the field and, in an array, the index.
struct InputProblem: Error, Equatable, Sendable, CustomStringConvertible {
    var index: Int?
    var field: String?
    var message: String

    /// `readings[3].pressure: expected a number, got a string`.
    var description: String {
        var place = index.map { "readings[\($0)]" } ?? ""
        if let field { place += place.isEmpty ? field : ".\(field)" }
        return place.isEmpty ? message : "\(place): \(message)"
    }
}

/// A request body: one reading object, or an array of them.
struct PredictionInput: Equatable, Sendable {
    var readings: [PredictionReading]
    /// Whether the body was an array (the answer is then an array too).
    var isArray: Bool

    /// How deep a body may nest: an array of objects is 2 levels; more is refused before parsing.
    static let maximumDepth = 4

    /// Parses and checks `body`.
    /// - Throws: `InputProblem` naming the first bad field (and its index in an array).
    init(body: [UInt8], maximumReadings: Int) throws(InputProblem) {
        guard let first = body.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw InputProblem(message: "empty body: expected a JSON reading object or an array of them")
        }
        guard first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else {
            throw InputProblem(message: "expected a JSON reading object or an array of them")
        }
        // Before the parser, so that a hostile nesting cannot reach its recursion.
        try Self.checkDepth(body)
        isArray = first == UInt8(ascii: "[")
        let decoder = JSONDecoder()
        decoder.userInfo[Self.maximumReadingsKey] = maximumReadings
        do {
            if isArray {
                readings = try decoder.decode(ReadingList.self, from: Data(body)).readings
            } else {
                readings = [try decoder.decode(ReadingSlot.self, from: Data(body)).reading]
            }
        } catch let problem as InputProblem {
            throw problem
        } catch {
            throw InputProblem(message: "not valid JSON")
        }
    }

    static let maximumReadingsKey = CodingUserInfoKey(rawValue: "cidp.maximumReadings")!

    /// Refuses nesting deeper than `maximumDepth` (brackets inside strings do not count).
    static func checkDepth(_ body: [UInt8]) throws(InputProblem) {
        var depth = 0, isInString = false, isEscaped = false
        for byte in body {
            if isInString {
                if isEscaped { isEscaped = false } else if byte == UInt8(ascii: "\\") { isEscaped = true }
                else if byte == UInt8(ascii: "\"") { isInString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): isInString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= maximumDepth else {
                    throw InputProblem(message: "nested more than \(maximumDepth) levels deep: expected a reading object or an array of them")
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
    }
}

/// The array form: each element decoded in turn, so that a problem names its index.
private struct ReadingList: Decodable {
    var readings: [PredictionReading] = []

    init(from decoder: any Decoder) throws {
        let maximum = decoder.userInfo[PredictionInput.maximumReadingsKey] as? Int ?? 10_000
        var container = try decoder.unkeyedContainer()
        if let count = container.count, count > maximum {
            throw InputProblem(message: "\(count) readings in one request; at most \(maximum)")
        }
        if container.count == 0 { throw InputProblem(message: "an empty array: expected at least one reading") }
        while !container.isAtEnd {
            let index = container.currentIndex
            do {
                readings.append(try container.decode(ReadingSlot.self).reading)
            } catch var problem as InputProblem {
                problem.index = index
                throw problem
            } catch {
                throw InputProblem(index: index, message: "expected a reading object")
            }
        }
    }
}

/// One reading object, its fields checked one by one.
private struct ReadingSlot: Decodable {
    var reading: PredictionReading

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container: KeyedDecodingContainer<Key>
        do { container = try decoder.container(keyedBy: Key.self) } catch {
            throw InputProblem(message: "expected a reading object")
        }
        func string(_ name: String) throws -> String {
            let key = Key(stringValue: name)
            guard container.contains(key) else { throw InputProblem(field: name, message: "missing") }
            guard let value = try? container.decode(String.self, forKey: key) else {
                throw InputProblem(field: name, message: "expected a string")
            }
            return value
        }
        func number(_ name: String, required: Bool) throws -> Double? {
            let key = Key(stringValue: name)
            guard container.contains(key), (try? container.decodeNil(forKey: key)) != true else {
                if required { throw InputProblem(field: name, message: "missing") }
                return nil
            }
            guard let value = try? container.decode(Double.self, forKey: key), value.isFinite else {
                throw InputProblem(field: name, message: "expected a finite number")
            }
            return value
        }
        let pumpID = try string("pump_id")
        guard (1...64).contains(pumpID.utf8.count),
              pumpID.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw InputProblem(field: "pump_id", message: "expected 1 to 64 printable ASCII characters without spaces")
        }
        let text = try string("timestamp")
        guard let timestamp = RFC3339.parse(text), Warehouse.storableTimestamps.contains(timestamp) else {
            throw InputProblem(field: "timestamp",
                               message: "expected an RFC 3339 date-time with a UTC offset (\"2024-01-01T00:00:00Z\"), years 0000-9999")
        }
        reading = PredictionReading(
            pumpID: pumpID, timestamp: timestamp,
            flowRate: try number("flow_rate", required: true)!, pressure: try number("pressure", required: true)!,
            vibration: try number("vibration", required: true)!, temperature: try number("temperature", required: true)!,
            vibrationRollingMean: try number("vibration_rolling_mean", required: false),
            pressureRollingMean: try number("pressure_rolling_mean", required: false))
    }
}
