/// Why a policy file was rejected: the file, the line and key when known, and what was expected.
///
/// Every problem in a policy is reported as exactly one `PolicyError`, before anything is built.
/// Its `description` is a single line, compiler style:
///
///     policies/x.toml:12: workers.extractor.shutdown: expected a duration in milliseconds >= 0 or "brutal_kill", got -5
public struct PolicyError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The policy file, as the caller named it.
    public var file: String
    /// The 1-based line of the offending key or table, when it can be found.
    public var line: Int?
    /// The dotted path of the offending key or table, e.g. `workers.extractor.shutdown`.
    public var keyPath: String?
    /// What is wrong, or what is expected and what was found instead.
    public var message: String

    /// Creates an error; newlines in `message` are flattened so `description` stays on one line.
    public init(file: String, line: Int? = nil, keyPath: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message.flattenedToOneLine
    }

    /// One line: `FILE[:LINE]: [KEYPATH: ]MESSAGE`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let keyPath { text += keyPath + ": " }
        return text + message
    }
}

extension String {
    /// The string with every line break replaced by a space.
    var flattenedToOneLine: String {
        String(map { $0.isNewline ? " " : $0 })
    }

    /// The string in double quotes, with quotes, backslashes and control characters escaped,
    /// so a value taken from the file can be shown in a one-line message.
    var quotedForMessage: String {
        var out = "\""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
