import CivilCalendar

import CivilCalendar
/// One structured log entry as a single line of JSON: what a worker writes to its stderr and
/// what the root writes to `logs/cidp.log`.
///
/// The shape is flat and strings only:
/// `{"timestamp":"…","level":"info","label":"…","message":"…","metadata":{"key":"value"}}`.
/// `timestamp` and `label` may be absent (or `null`), `metadata` may be absent (read as empty).
/// The encoder and the parser are written by hand: a measured hot path (every worker log line
/// is parsed by the root), and no JSON library here keeps the flat shape and key order.
public struct LogLine: Equatable, Sendable {
    /// ISO-8601 UTC with milliseconds (`2024-05-01T12:34:56.789Z`), when the writer knows it.
    public var timestamp: String?
    /// One of ``levelNames`` (swift-log's `Logger.Level` raw values).
    public var level: String
    public var message: String
    /// The swift-log label of the logger that wrote the entry.
    public var label: String?
    /// Flat string metadata; nested values are rendered to strings by the writer.
    public var metadata: [String: String]

    /// The level names ``decode(_:)`` accepts, lowest first (swift-log's `Logger.Level` raw values).
    public static let levelNames: [String] = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init(timestamp: String? = nil, level: String, message: String, label: String? = nil, metadata: [String: String] = [:]) {
        self.timestamp = timestamp
        self.level = level
        self.message = message
        self.label = label
        self.metadata = metadata
    }

    /// The entry as one JSON object without a trailing newline; it never contains a raw newline.
    ///
    /// Keys come in a fixed order (`timestamp`, `level`, `label`, `message`, `metadata`), metadata
    /// keys sorted, so equal entries encode to equal bytes. Absent fields and empty metadata are left out.
    public func encoded() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64 + message.utf8.count)
        out.append(UInt8(ascii: "{"))
        if let timestamp {
            Self.appendMember("timestamp", timestamp, to: &out)
            out.append(UInt8(ascii: ","))
        }
        Self.appendMember("level", level, to: &out)
        if let label {
            out.append(UInt8(ascii: ","))
            Self.appendMember("label", label, to: &out)
        }
        out.append(UInt8(ascii: ","))
        Self.appendMember("message", message, to: &out)
        if !metadata.isEmpty {
            out.append(contentsOf: Array(",\"metadata\":{".utf8))
            for (index, key) in metadata.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.appendMember(key, metadata[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses one line written by ``encoded()`` (or any JSON object of the same shape).
    ///
    /// Returns `nil`, never traps, for anything else: not JSON, trailing garbage, a missing or
    /// unknown `level`, a missing `message`, a non-string value, duplicate keys, bad escapes.
    /// Unknown top-level keys with string values are ignored. Surrounding whitespace is allowed.
    public static func decode(_ line: some StringProtocol) -> LogLine? {
        var parser = JSONObjectParser(bytes: Array(line.utf8))
        guard let members = parser.parseDocument() else { return nil }
        var fields: [String: JSONObjectParser.Value] = [:]
        for (key, value) in members {
            guard fields.updateValue(value, forKey: key) == nil else { return nil }
        }
        guard case .string(let level)? = fields["level"], levelNames.contains(level),
              case .string(let message)? = fields["message"]
        else { return nil }
        var entry = LogLine(level: level, message: message)
        switch fields["timestamp"] {
        case nil, .null?: break
        case .string(let value)?: entry.timestamp = value
        case .object?: return nil
        }
        switch fields["label"] {
        case nil, .null?: break
        case .string(let value)?: entry.label = value
        case .object?: return nil
        }
        switch fields["metadata"] {
        case nil, .null?: break
        case .string?: return nil
        case .object(let pairs)?:
            for (key, value) in pairs {
                guard entry.metadata.updateValue(value, forKey: key) == nil else { return nil }
            }
        }
        for (key, value) in fields where !["timestamp", "level", "label", "message", "metadata"].contains(key) {
            // Extra keys are tolerated only when they are plain strings, so the shape stays flat.
            guard case .string = value else { return nil }
        }
        return entry
    }

    /// Formats a wall-clock instant as ISO-8601 UTC with milliseconds: `2024-05-01T12:34:56.789Z`.
    ///
    /// Pure arithmetic (proleptic Gregorian calendar), so both sides stamp lines the same way without Foundation.
    public static func formatTimestamp(secondsSinceEpoch: Int64, milliseconds: Int) -> String {
        let days = CivilDate.floorDivide(secondsSinceEpoch, 86_400)
        let secondOfDay = Int(secondsSinceEpoch - days * 86_400)
        let (year, month, day) = CivilDate.date(days: days)
        var out = ""
        out.reserveCapacity(24)
        out += pad(year, 4) + "-" + pad(Int64(month), 2) + "-" + pad(Int64(day), 2)
        out += "T" + pad(Int64(secondOfDay / 3600), 2) + ":" + pad(Int64(secondOfDay / 60 % 60), 2)
        out += ":" + pad(Int64(secondOfDay % 60), 2) + "." + pad(Int64(min(max(milliseconds, 0), 999)), 3) + "Z"
        return out
    }

    // MARK: - Encoding

    private static func appendMember(_ key: String, _ value: String, to out: inout [UInt8]) {
        appendQuoted(key, to: &out)
        out.append(UInt8(ascii: ":"))
        appendQuoted(value, to: &out)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `string` as a JSON string literal; non-ASCII stays raw UTF-8, control characters are escaped.
    static func appendQuoted(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x00..<0x20, 0x7F:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A strict parser for the one JSON shape ``LogLine`` uses: an object whose values are strings,
/// `null`, or (one level deep) objects of strings. It works on UTF-8 bytes and never traps.
struct JSONObjectParser {
    enum Value {
        case string(String)
        case null
        case object([(String, String)])
    }

    private let bytes: [UInt8]
    private var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The members of the single object that makes up the whole input, or `nil`.
    mutating func parseDocument() -> [(String, Value)]? {
        skipWhitespace()
        guard let members = parseObject(value: { $0.parseValue() }) else { return nil }
        skipWhitespace()
        return index == bytes.count ? members : nil
    }

    /// `{"key": value, …}`, each value read by `value`; `nil` if anything is malformed.
    private mutating func parseObject<Member>(value: (inout Self) -> Member?) -> [(String, Member)]? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var members: [(String, Member)] = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return members }
        repeat {
            skipWhitespace()
            guard let key = parseString() else { return nil }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            guard let member = value(&self) else { return nil }
            members.append((key, member))
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? members : nil
    }

    private mutating func parseValue() -> Value? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return parseString().map(Value.string)
        case UInt8(ascii: "n"):
            guard bytes[index...].starts(with: "null".utf8) else { return nil }
            index += 4
            return .null
        case UInt8(ascii: "{"):
            // Nested objects hold strings only (the metadata).
            return parseObject(value: { $0.parseString() }).map(Value.object)
        default:
            return nil
        }
    }

    private mutating func parseString() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = parseUnicodeEscape() else { return nil }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
            case 0x00..<0x20:
                return nil // JSON forbids raw control characters inside strings
            default:
                out.append(byte)
            }
        }
        return nil
    }

    /// After `\u`: four hex digits, or a surrogate pair written as two escapes. Lone surrogates are rejected.
    private mutating func parseUnicodeEscape() -> Unicode.Scalar? {
        guard let high = parseHex4() else { return nil }
        switch high {
        case 0xD800..<0xDC00:
            guard consume(UInt8(ascii: "\\")), consume(UInt8(ascii: "u")),
                  let low = parseHex4(), (0xDC00..<0xE000).contains(low)
            else { return nil }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        case 0xDC00..<0xE000:
            return nil
        default:
            return Unicode.Scalar(high)
        }
    }

    private mutating func parseHex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }
}
