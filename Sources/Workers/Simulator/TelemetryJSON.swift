import Wire
import CivilCalendar

/// Hand-written JSON for the simulator's responses, built into one byte buffer: the hot path
/// serves a million records without Foundation or an encoder in between.
///
/// Doubles round-trip exactly: a whole number of hundredths (every generated reading) is
/// written as that decimal, which parses back to the same double; anything else is written
/// with Swift's shortest round-trip `description`; NaN and infinities become `null`.
struct TelemetryJSON {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// `{"records":[...],"next_cursor":"N"|null}` for records `cursor..<cursor + limit` (clamped).
    /// With `available` (an open-ended, growing source), pages stop at `available` and
    /// `next_cursor` stays non-null until the generator's own end (`TelemetryGenerator.maximumCount`
    /// for a follow source): a caught-up client asks the same cursor again later.
    static func page(_ generator: TelemetryGenerator, cursor: Int, limit: Int, faults: SimulatorFaults,
                     available: Int? = nil) -> [UInt8] {
        let bound = min(available ?? generator.count, generator.count)
        let end = cursor + max(0, min(limit, bound - cursor))
        var json = TelemetryJSON(capacity: 64 + (end - cursor) * 168)
        json.append("{\"records\":[")
        // Ten records share each timestamp: its 20 characters are formatted once per hour.
        var stamp = TelemetryJSON(capacity: 20)
        var stampSeconds = Int64.min
        for index in cursor..<end {
            if index > cursor { json.append(",") }
            let served = generator.servedRecord(at: index, faults: faults)
            if served.record.timestamp != stampSeconds {
                stampSeconds = served.record.timestamp
                stamp.bytes.removeAll(keepingCapacity: true)
                stamp.appendTimestamp(stampSeconds)
            }
            json.appendRecord(served, formattedTimestamp: stamp.bytes)
        }
        json.append("],\"next_cursor\":")
        if end < generator.count {
            json.append("\"")
            json.appendInteger(Int64(max(end, cursor)))
            json.append("\"")
        } else {
            json.append("null")
        }
        json.append("}")
        return json.bytes
    }

    /// `{"status":"ok","records":N}`.
    static func health(records: Int) -> [UInt8] {
        var json = TelemetryJSON()
        json.append("{\"status\":\"ok\",\"records\":")
        json.appendInteger(Int64(records))
        json.append("}")
        return json.bytes
    }

    /// `{"error":"MESSAGE"}`, plus `"parameter":"NAME"` when a query parameter is at fault.
    static func error(_ message: String, parameter: String? = nil) -> [UInt8] {
        var json = TelemetryJSON()
        json.append("{\"error\":")
        json.appendString(message)
        if let parameter {
            json.append(",\"parameter\":")
            json.appendString(parameter)
        }
        json.append("}")
        return json.bytes
    }

    /// One record; `formattedTimestamp` is its timestamp already formatted, when the caller has it.
    mutating func appendRecord(_ served: ServedRecord, formattedTimestamp: [UInt8]? = nil) {
        let record = served.record
        append("{\"timestamp\":\"")
        if let formattedTimestamp { bytes.append(contentsOf: formattedTimestamp) } else { appendTimestamp(record.timestamp) }
        append("\",\"pump_id\":")
        appendString(record.pumpID)
        append(",\"flow_rate\":")
        appendReading(record.flowRate, isMissing: served.missing == .flowRate)
        append(",\"pressure\":")
        appendReading(record.pressure, isMissing: served.missing == .pressure)
        append(",\"vibration\":")
        appendReading(record.vibration, isMissing: served.missing == .vibration)
        append(",\"temperature\":")
        appendReading(record.temperature, isMissing: served.missing == .temperature)
        append(",\"failure\":")
        appendInteger(Int64(record.failure))
        append("}")
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func appendReading(_ value: Double, isMissing: Bool) {
        if isMissing { append("null") } else { appendDouble(value) }
    }

    mutating func appendDouble(_ value: Double) {
        guard value.isFinite else { return append("null") }
        let hundredths = (value * 100).rounded()
        // Fast path: value is the double nearest to k/100, so the decimal k/100 parses back to it.
        // (k is exact below 2^53 and IEEE division rounds correctly.) −0 keeps its sign below.
        guard abs(hundredths) < 0x1p52, hundredths / 100 == value, !(value == 0 && value.sign == .minus) else {
            bytes.append(contentsOf: value.description.utf8)
            return
        }
        var k = Int64(hundredths)
        if k < 0 {
            bytes.append(UInt8(ascii: "-"))
            k = -k
        }
        appendInteger(k / 100)
        let fraction = Int(k % 100)
        guard fraction != 0 else { return }
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 10))
        if fraction % 10 != 0 { bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10)) }
    }

    mutating func appendInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // Digits right to left into a stack buffer, then one append: no intermediate String.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var position = digits.count
            repeat {
                position -= 1
                digits[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[position...]))
        }
    }

    /// A JSON string; control characters, quotes and backslashes escaped.
    mutating func appendString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (proleptic Gregorian, UTC).
    mutating func appendTimestamp(_ unixSeconds: Int64) {
        let days = CivilDate.floorDivide(unixSeconds, 86_400)
        let secondOfDay = unixSeconds - days * 86_400
        let (year, month, day) = CivilDate.date(days: days)
        appendPadded(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        appendPadded(secondOfDay / 3600, width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay / 60 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay % 60, width: 2)
        bytes.append(UInt8(ascii: "Z"))
    }

    private mutating func appendPadded(_ value: Int64, width: Int) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        guard value >= 0, value < divisor * 10 else { return appendInteger(value) }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}
