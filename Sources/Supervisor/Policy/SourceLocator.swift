/// Finds the line where a table or key of a TOML document is first written.
///
/// TOMLKit does not expose source positions of parsed values, so this scans the text itself:
/// table headers (`[workers.extractor]`, `[defaults.backoff]`, quoted parts), `key = value`
/// lines with dotted or quoted keys, and the keys of inline tables (`env = { A = "1" }`). It
/// skips strings (including multi-line ones), comments and multi-line arrays. It is only used
/// to place error messages, and on anything it does not understand it simply records nothing.
///
/// It also runs before the TOML parser, on any text, to measure the deepest key path
/// (`deepestPath`): the parser recurses once per level of a dotted key or table header, so a
/// path thousands of levels deep would overflow its stack. The scan itself is linear and never
/// recurses; only the first `recordedDepth` levels of a path are recorded for locating errors.
struct SourceLocator {
    /// First line (1-based) at which each path, joined by `separator`, appears.
    private var firstLine: [String: Int] = [:]
    private static let separator = "\u{1F}"
    /// The deepest key path seen: its levels (dotted parts, plus one for each array or inline
    /// table it is nested in inside a value), its line, and its first parts (none inside arrays).
    private(set) var deepestPath: (depth: Int, line: Int, start: [String]) = (0, 0, [])
    /// Parts of a path beyond this are not kept: no valid policy has such keys, and keeping every
    /// prefix of a very long path would take time and memory quadratic in its length.
    static let recordedDepth = 16

    /// Scans `text` once.
    init(text: String) {
        var scanner = Scanner()
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            scanner.scan(Array(line.utf8), line: lineNumber) { path, depth, line in
                if depth > deepestPath.depth { deepestPath = (depth, line, path) }
                // Deeper paths are refused before anything asks where they are.
                if depth <= Self.recordedDepth { record(path, at: line) }
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
    /// An open value that may continue on the next line. `depth` is the number of levels above
    /// what it holds (a key inside it adds its own parts), counted even where `path` is not kept.
    enum Container {
        case array(depth: Int)
        /// An inline table; `path` is nil for tables whose place we do not track (inside arrays).
        case inlineTable(path: [String]?, depth: Int, expectingKey: Bool)

        var depth: Int {
            switch self {
            case .array(let depth), .inlineTable(_, let depth, _): depth
            }
        }
    }

    /// The current table's path, cut as `joined` cuts paths, and its full depth.
    private var table: [String] = []
    private var tableDepth = 0
    private var containers: [Container] = []
    /// The closing delimiter of a multi-line string still open, `"""` or `'''`.
    private var openString: UInt8?

    private static let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'")
    private static let hash = UInt8(ascii: "#"), equals = UInt8(ascii: "="), dot = UInt8(ascii: ".")
    private static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    private static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    private static let comma = UInt8(ascii: ","), backslash = UInt8(ascii: "\\")

    /// `base + key`, cut to `SourceLocator.recordedDepth` parts: a path never grows past them, so
    /// a hostile document cannot make the scan quadratic.
    private static func joined(_ base: [String], _ key: [String]) -> [String] {
        base + key.prefix(max(0, SourceLocator.recordedDepth - base.count))
    }

    /// Calls `found` with each path (cut as `joined` cuts it), its full depth and its line.
    mutating func scan(_ s: [UInt8], line: Int, found: (_ path: [String], _ depth: Int, _ line: Int) -> Void) {
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
                table = Self.joined([], path)
                tableDepth = path.count
                found(table, tableDepth, line)
                return
            }
            guard let key = Self.parseKey(s, &i) else { return }
            let keyPath = Self.joined(table, key)
            let depth = tableDepth + key.count
            found(keyPath, depth, line)
            Self.skipSpaces(s, &i)
            guard i < s.count, s[i] == Self.equals else { return }
            i += 1
            Self.skipSpaces(s, &i)
            if i < s.count, s[i] == Self.openBrace {
                containers.append(.inlineTable(path: keyPath, depth: depth, expectingKey: true))
                i += 1
            } else if i < s.count, s[i] == Self.openBracket {
                containers.append(.array(depth: depth))
                i += 1
            }
        }
        scanValue(s, &i, line: line, found: found)
    }

    /// Scans value text up to the end of the line, tracking open arrays, inline tables and strings.
    private mutating func scanValue(_ s: [UInt8], _ i: inout Int, line: Int,
                                    found: (_ path: [String], _ depth: Int, _ line: Int) -> Void) {
        while i < s.count {
            if case .inlineTable(let path, let tableDepth, true)? = containers.last {
                Self.skipSpaces(s, &i)
                guard i < s.count else { return }
                if s[i] == Self.closeBrace { containers.removeLast(); i += 1; continue }
                guard let key = Self.parseKey(s, &i) else { i += 1; continue }
                let keyPath = path.map { Self.joined($0, key) }
                let depth = tableDepth + key.count
                found(keyPath ?? [], depth, line)
                containers[containers.count - 1] = .inlineTable(path: path, depth: tableDepth, expectingKey: false)
                Self.skipSpaces(s, &i)
                if i < s.count, s[i] == Self.equals { i += 1 }
                Self.skipSpaces(s, &i)
                if i < s.count, s[i] == Self.openBrace {
                    containers.append(.inlineTable(path: keyPath, depth: depth, expectingKey: true))
                    i += 1
                } else if i < s.count, s[i] == Self.openBracket {
                    containers.append(.array(depth: depth))
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
                // A value nested in another is a level of its own, as the parser nests it.
                containers.append(.array(depth: (containers.last?.depth ?? 0) + 1))
                i += 1
            case Self.openBrace:
                containers.append(.inlineTable(path: nil, depth: (containers.last?.depth ?? 0) + 1, expectingKey: true))
                i += 1
            case Self.closeBracket, Self.closeBrace:
                if !containers.isEmpty { containers.removeLast() }
                i += 1
            case Self.comma:
                if case .inlineTable(let path, let depth, false)? = containers.last {
                    containers[containers.count - 1] = .inlineTable(path: path, depth: depth, expectingKey: true)
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
