/// Finds the line where a table or key of a TOML document is first written.
///
/// TOMLKit does not expose source positions of parsed values, so this scans the text itself:
/// table headers (`[workers.extractor]`, `[defaults.backoff]`, quoted parts), `key = value`
/// lines with dotted or quoted keys, and the keys of inline tables (`env = { A = "1" }`). It
/// skips strings (including multi-line ones), comments and multi-line arrays. It is only used
/// to place error messages, and it is only ever asked about documents that TOML already
/// accepted, so on anything it does not understand it simply records nothing.
struct SourceLocator {
    /// First line (1-based) at which each path, joined by `separator`, appears.
    private var firstLine: [String: Int] = [:]
    private static let separator = "\u{1F}"

    /// Scans `text` once.
    init(text: String) {
        var scanner = Scanner()
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            scanner.scan(Array(line.utf8), line: lineNumber) { path, line in
                record(path, at: line)
            }
        }
    }

    /// The line of `path`, or of its closest enclosing table or key that was found.
    func line(of path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = firstLine[path.joined(separator: Self.separator)] { return line }
            path.removeLast()
        }
        return nil
    }

    /// Records `path` and each of its prefixes (dotted keys and headers define their parents implicitly).
    private mutating func record(_ path: [String], at line: Int) {
        guard !path.isEmpty else { return }
        for count in 1...path.count {
            let key = path.prefix(count).joined(separator: Self.separator)
            if firstLine[key] == nil { firstLine[key] = line }
        }
    }
}

/// The line-by-line state of `SourceLocator`'s scan.
private struct Scanner {
    /// An open value that may continue on the next line.
    enum Container {
        case array
        /// An inline table; `path` is nil for tables whose place we do not track (inside arrays).
        case inlineTable(path: [String]?, expectingKey: Bool)
    }

    private var table: [String] = []
    private var containers: [Container] = []
    /// The closing delimiter of a multi-line string still open, `"""` or `'''`.
    private var openString: UInt8?

    private static let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'")
    private static let hash = UInt8(ascii: "#"), equals = UInt8(ascii: "="), dot = UInt8(ascii: ".")
    private static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    private static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    private static let comma = UInt8(ascii: ","), backslash = UInt8(ascii: "\\")

    mutating func scan(_ s: [UInt8], line: Int, found: (_ path: [String], _ line: Int) -> Void) {
        var i = 0
        if let delimiter = openString {
            guard let end = Self.endOfMultilineString(s, from: 0, delimiter: delimiter) else { return }
            openString = nil
            i = end
        }
        if containers.isEmpty {
            Self.skipSpaces(s, &i)
            guard i < s.count, s[i] != Self.hash else { return }
            if s[i] == Self.openBracket {
                i += 1
                if i < s.count, s[i] == Self.openBracket { i += 1 }
                guard let path = Self.parseKey(s, &i) else { return }
                table = path
                found(path, line)
                return
            }
            guard let key = Self.parseKey(s, &i) else { return }
            found(table + key, line)
            Self.skipSpaces(s, &i)
            guard i < s.count, s[i] == Self.equals else { return }
            i += 1
            Self.skipSpaces(s, &i)
            if i < s.count, s[i] == Self.openBrace {
                containers.append(.inlineTable(path: table + key, expectingKey: true))
                i += 1
            }
        }
        scanValue(s, &i, line: line, found: found)
    }

    /// Scans value text up to the end of the line, tracking open arrays, inline tables and strings.
    private mutating func scanValue(_ s: [UInt8], _ i: inout Int, line: Int,
                                    found: (_ path: [String], _ line: Int) -> Void) {
        while i < s.count {
            if case .inlineTable(let path, true)? = containers.last {
                Self.skipSpaces(s, &i)
                guard i < s.count else { return }
                if s[i] == Self.closeBrace { containers.removeLast(); i += 1; continue }
                guard let key = Self.parseKey(s, &i) else { i += 1; continue }
                let keyPath = path.map { $0 + key }
                if let keyPath { found(keyPath, line) }
                containers[containers.count - 1] = .inlineTable(path: path, expectingKey: false)
                Self.skipSpaces(s, &i)
                if i < s.count, s[i] == Self.equals { i += 1 }
                Self.skipSpaces(s, &i)
                if i < s.count, s[i] == Self.openBrace {
                    containers.append(.inlineTable(path: keyPath, expectingKey: true))
                    i += 1
                }
                continue
            }
            switch s[i] {
            case Self.hash:
                return
            case Self.quote, Self.apostrophe:
                let delimiter = s[i]
                if i + 2 < s.count, s[i + 1] == delimiter, s[i + 2] == delimiter {
                    guard let end = Self.endOfMultilineString(s, from: i + 3, delimiter: delimiter) else {
                        openString = delimiter
                        return
                    }
                    i = end
                } else {
                    i = Self.endOfString(s, from: i + 1, delimiter: delimiter)
                }
            case Self.openBracket:
                containers.append(.array)
                i += 1
            case Self.openBrace:
                containers.append(.inlineTable(path: nil, expectingKey: true))
                i += 1
            case Self.closeBracket, Self.closeBrace:
                if !containers.isEmpty { containers.removeLast() }
                i += 1
            case Self.comma:
                if case .inlineTable(let path, false)? = containers.last {
                    containers[containers.count - 1] = .inlineTable(path: path, expectingKey: true)
                }
                i += 1
            default:
                i += 1
            }
        }
    }

    /// Parses a dotted key (`a.b`, `"quoted key".c`, `'literal'`), leaving `i` after it.
    private static func parseKey(_ s: [UInt8], _ i: inout Int) -> [String]? {
        var parts: [String] = []
        while true {
            skipSpaces(s, &i)
            guard i < s.count else { return nil }
            if s[i] == quote || s[i] == apostrophe {
                let delimiter = s[i]
                let end = endOfString(s, from: i + 1, delimiter: delimiter)
                guard end - 1 > i, s[end - 1] == delimiter else { return nil }
                let raw = String(decoding: s[(i + 1)..<(end - 1)], as: UTF8.self)
                parts.append(delimiter == quote ? raw.replacingEscapes() : raw)
                i = end
            } else {
                let start = i
                while i < s.count, isBareKeyByte(s[i]) { i += 1 }
                guard i > start else { return nil }
                parts.append(String(decoding: s[start..<i], as: UTF8.self))
            }
            skipSpaces(s, &i)
            guard i < s.count, s[i] == dot else { return parts }
            i += 1
        }
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// The index just after the closing delimiter of a one-line string whose content starts at `from`.
    private static func endOfString(_ s: [UInt8], from: Int, delimiter: UInt8) -> Int {
        var i = from
        while i < s.count {
            if delimiter == quote, s[i] == backslash { i += 2; continue }
            if s[i] == delimiter { return i + 1 }
            i += 1
        }
        return s.count
    }

    /// The index just after the closing `"""`/`'''` at or after `from`, or nil if the string goes on.
    private static func endOfMultilineString(_ s: [UInt8], from: Int, delimiter: UInt8) -> Int? {
        var i = from
        while i < s.count {
            if delimiter == quote, s[i] == backslash { i += 2; continue }
            if i + 2 < s.count, s[i] == delimiter, s[i + 1] == delimiter, s[i + 2] == delimiter {
                var end = i + 3
                // Up to two more quotes may belong to the content (`""""` ends with one quote inside).
                while end < s.count, s[end] == delimiter, end < i + 5 { end += 1 }
                return end
            }
            i += 1
        }
        return nil
    }

    private static func skipSpaces(_ s: [UInt8], _ i: inout Int) {
        while i < s.count, s[i] == UInt8(ascii: " ") || s[i] == UInt8(ascii: "\t") || s[i] == UInt8(ascii: "\r") {
            i += 1
        }
    }
}

private extension String {
    /// The common escapes of a basic-string key; keys with rarer escapes are located approximately.
    func replacingEscapes() -> String {
        var out = ""
        var escaping = false
        for character in self {
            if escaping {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
