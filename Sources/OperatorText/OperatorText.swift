/// Text the outside world wrote — a sensor API's pump id, a worker's last error line, a gate's
/// reason quoting either — made safe to show an operator: every character that could move the
/// cursor, start a new line or drive the terminal is shown escaped, so the world's text can
/// neither forge a line of our output nor reach the terminal as an escape sequence.
///
/// Escaped: the C0 controls, DEL and the C1 controls (`U+0080…U+009F`, among them the 8-bit CSI
/// `U+009B`), the Unicode line and paragraph separators (`U+2028`, `U+2029`) and the
/// bidirectional controls (`U+061C`, `U+200E`, `U+200F`, `U+202A…U+202E`, `U+2066…U+2069`), which
/// reorder what a terminal shows. `\n`, `\r` and `\t` keep their short forms; every other one
/// becomes `\u` and four hex digits (`\u001b`), as the console log lines show them.
///
/// Backslashes are left alone, so escaping is idempotent: text already escaped (or escaped on
/// the other side of the control socket) comes out unchanged, never `\\n`.
public enum OperatorText {
    /// Whether the scalar must not reach a terminal as it is.
    public static func mustEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x2028, 0x2029: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// Whether `text` can be shown as it is.
    public static func isSafe(_ text: String) -> Bool {
        !text.unicodeScalars.contains(where: mustEscape)
    }

    /// `text` with every character of `mustEscape` shown escaped; unchanged when there is none.
    public static func escaped(_ text: String) -> String {
        guard !isSafe(text) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard mustEscape(scalar) else {
                out.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default: out.append(contentsOf: unicodeEscape(scalar).unicodeScalars)
            }
        }
        return String(out)
    }

    /// A JSON document made safe to print, still JSON that parses to the same value: inside
    /// strings every character of `mustEscape` becomes a `\u` escape (a raw control character
    /// is not even valid JSON there, and DEL, C1 and the rest are valid but would reach the
    /// terminal); outside strings the whitespace JSON allows (space, `\n`, `\r`, `\t`) stays, so
    /// pretty-printed JSON keeps its lines, and anything else is escaped as `escaped` does.
    /// Escapes already in the document are kept as they are: nothing is escaped twice.
    public static func escapedJSON(_ json: String) -> String {
        guard !isSafe(json) else { return json }
        var out = String.UnicodeScalarView()
        var inString = false
        var afterBackslash = false
        for scalar in json.unicodeScalars {
            if inString {
                if afterBackslash {
                    afterBackslash = false
                } else if scalar == "\\" {
                    afterBackslash = true
                } else if scalar == "\"" {
                    inString = false
                }
                // An escaped control character (`\` then a raw one) is not JSON either: escaped all the same.
                if mustEscape(scalar) {
                    out.append(contentsOf: unicodeEscape(scalar).unicodeScalars)
                    continue
                }
            } else {
                if scalar == "\"" { inString = true }
                if scalar != "\n" && scalar != "\r" && scalar != "\t" && mustEscape(scalar) {
                    out.append(contentsOf: escaped(String(scalar)).unicodeScalars)
                    continue
                }
            }
            out.append(scalar)
        }
        return String(out)
    }

    /// `\u` and four lowercase hex digits (every escaped scalar is in the BMP).
    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
