#if canImport(Glibc)
import Glibc
#endif
import Wire

/// A JSON string's extent in the body, found by `scanString`.
struct StringToken {
    /// Offset of the first byte after the opening quote.
    var start: Int
    /// Offset of the closing quote.
    var end: Int
    /// Whether it contains a backslash escape (then it must be decoded).
    var hasEscapes: Bool
    /// Whether every byte is ASCII (then it is valid UTF-8 as it is).
    var isASCII: Bool
}

extension TelemetryPageParser {
    // MARK: Strings

    /// A JSON string, unescaped and checked to be UTF-8.
    mutating func parseString() throws(ExtractError) -> String {
        try decodeString(scanString())
    }

    /// A JSON string of at most `maximumLength` bytes once decoded. One far longer in the body
    /// (escapes shrink by at most 6 to 1) is refused before it is decoded.
    mutating func parseString(maximumLength: Int) throws(ExtractError) -> String {
        let start = index
        let token = try scanString()
        let length = token.end - token.start
        guard length <= maximumLength || (token.hasEscapes && length <= 6 * maximumLength) else {
            throw malformed("a string longer than \(maximumLength) bytes", at: start)
        }
        let text = try decodeString(token)
        guard text.utf8.count <= maximumLength else { throw malformed("a string longer than \(maximumLength) bytes", at: start) }
        return text
    }

    /// Finds the extent of the string starting at `index` and moves past it; escapes are only
    /// skipped here (`decodeString` checks them).
    mutating func scanString() throws(ExtractError) -> StringToken {
        try expect(UInt8(ascii: "\""), "'\"'")
        var token = StringToken(start: index, end: index, hasEscapes: false, isASCII: true)
        var highBits: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                token.end = index
                token.isASCII = highBits & 0x80 == 0
                index += 1
                return token
            }
            if byte == UInt8(ascii: "\\") {
                token.hasEscapes = true
                index += 2
                continue
            }
            guard byte >= 0x20 else { throw malformed("control character 0x\(String(byte, radix: 16)) inside a string") }
            highBits |= byte
            index += 1
        }
        index = bytes.count
        throw malformed("body ends early (truncated?) inside a string")
    }

    /// The string `token` spells: escapes replaced, UTF-8 checked.
    func decodeString(_ token: StringToken) throws(ExtractError) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        if !token.hasEscapes {
            if token.isASCII { return String(decoding: raw, as: UTF8.self) }
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw malformed("invalid UTF-8 inside a string", at: token.start)
            }
            return text
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var position = token.start
        while position < token.end {
            let byte = bytes[position]
            guard byte == UInt8(ascii: "\\") else {
                decoded.append(byte)
                position += 1
                continue
            }
            let escape = bytes[position + 1]
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hexQuad(at: position + 2, end: token.end)
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard position + 12 <= token.end, bytes[position + 6] == UInt8(ascii: "\\"),
                          bytes[position + 7] == UInt8(ascii: "u") else {
                        throw malformed("unpaired surrogate in a \\u escape", at: position)
                    }
                    let low = try hexQuad(at: position + 8, end: token.end)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw malformed("unpaired surrogate in a \\u escape", at: position)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    position += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw malformed("unpaired surrogate in a \\u escape", at: position)
                }
                decoded.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                position += 4
            default:
                throw malformed("invalid escape in a string", at: position)
            }
            position += 2
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw malformed("invalid UTF-8 inside a string", at: token.start)
        }
        return text
    }

    /// The four hex digits at `offset` (before `end`), as a number.
    private func hexQuad(at offset: Int, end: Int) throws(ExtractError) -> UInt32 {
        guard offset + 4 <= end else { throw malformed("\\u escape needs four hex digits", at: offset - 2) }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("\\u escape needs four hex digits", at: offset - 2)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    // MARK: Numbers

    /// A reading: a JSON number, a string holding one (`"512.3"`), or `null` for a missing
    /// reading (NaN).
    mutating func parseReading() throws(ExtractError) -> Double {
        switch current {
        case UInt8(ascii: "n"):
            try expectNull("a number, a string holding one, or null")
            return .nan
        case UInt8(ascii: "\""):
            return try parseInsideString("a number") { (parser) throws(ExtractError) in try parser.parseNumber() }
        default:
            return try parseNumber()
        }
    }

    /// `failure`: an integer literal from 0 to 255, a string holding one (`"1"`), or `true` (1)
    /// or `false` (0).
    mutating func parseFailure() throws(ExtractError) -> UInt8 {
        switch current {
        case UInt8(ascii: "t"):
            try expectLiteral("true", "an integer from 0 to 255, a string holding one, or true or false")
            return 1
        case UInt8(ascii: "f"):
            try expectLiteral("false", "an integer from 0 to 255, a string holding one, or true or false")
            return 0
        case UInt8(ascii: "\""):
            return try parseInsideString("an integer from 0 to 255") { (parser) throws(ExtractError) in try parser.parseSmallInteger() }
        default:
            return try parseSmallInteger()
        }
    }

    /// An integer literal from 0 to 255.
    private mutating func parseSmallInteger() throws(ExtractError) -> UInt8 {
        let start = index
        guard isDigit(current) else { throw expected("an integer from 0 to 255") }
        var value = 0
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            while isDigit(current), value <= 255 {
                value = value * 10 + Int(current - UInt8(ascii: "0"))
                index += 1
            }
        }
        let next = current
        guard value <= 255, !isDigit(next), next != UInt8(ascii: "."), next | 0x20 != UInt8(ascii: "e") else {
            throw malformed("expected an integer from 0 to 255", at: start)
        }
        return UInt8(value)
    }

    /// The value `parse` reads from the contents of the JSON string at `index` (a number sent as
    /// a string): `parse` must consume the contents exactly; escapes are refused (no source
    /// writes a digit as `\u0031`).
    mutating func parseInsideString<Value>(
        _ what: String, _ parse: (inout TelemetryPageParser) throws(ExtractError) -> Value
    ) throws(ExtractError) -> Value {
        let start = index
        let token = try scanString()
        guard !token.hasEscapes else { throw malformed("expected \(what) in the string, found an escape", at: start) }
        guard token.end > token.start else { throw malformed("expected \(what), found an empty string", at: start) }
        let after = index
        // The closing quote ends the number as any delimiter would (and gives strtod its stop).
        index = token.start
        let value = try parse(&self)
        guard index == token.end else { throw expected("the end of the string after \(what)") }
        index = after
        return value
    }

    /// A JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) as the nearest double.
    ///
    /// Up to 19 significant digits are gathered as an integer; when that integer is at most
    /// 2^53 and the decimal exponent within ±22, both it and the power of ten are exact doubles
    /// and one IEEE multiplication or division rounds correctly (Clinger's fast path). Any other
    /// number goes to `strtod`, which rounds correctly too.
    mutating func parseNumber() throws(ExtractError) -> Double {
        let start = index
        let isNegative = current == UInt8(ascii: "-")
        if isNegative { index += 1 }
        guard isDigit(current) else { throw expected("a number") }
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var exponent = 0
        var isExact = true
        if current == UInt8(ascii: "0") {
            index += 1
            guard !isDigit(current) else { throw malformed("a number with a leading zero", at: start) }
        } else {
            while isDigit(current) {
                if significantDigits < 19 {
                    mantissa = mantissa * 10 + UInt64(current - UInt8(ascii: "0"))
                    significantDigits += 1
                } else {
                    exponent += 1
                    isExact = false
                }
                index += 1
            }
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard isDigit(current) else { throw expected("a digit after '.'") }
            while isDigit(current) {
                if significantDigits < 19 {
                    mantissa = mantissa * 10 + UInt64(current - UInt8(ascii: "0"))
                    if mantissa != 0 { significantDigits += 1 }
                    exponent -= 1
                } else {
                    isExact = false
                }
                index += 1
            }
        }
        if current | 0x20 == UInt8(ascii: "e") {
            index += 1
            let isExponentNegative = current == UInt8(ascii: "-")
            if isExponentNegative || current == UInt8(ascii: "+") { index += 1 }
            guard isDigit(current) else { throw expected("a digit in the exponent") }
            var value = 0
            while isDigit(current) {
                if value < 100_000 { value = value * 10 + Int(current - UInt8(ascii: "0")) }
                index += 1
            }
            exponent += isExponentNegative ? -value : value
        }
        // strtod below needs a byte after the number to stop at; a page never ends in one.
        guard index < bytes.count else { throw expected("',' or '}' after a number") }
        let value: Double
        if isExact && (mantissa == 0 || (mantissa <= 1 << 53 && (-22...22).contains(exponent))) {
            let magnitude = exponent < 0
                ? Double(mantissa) / Self.powerOfTen(-exponent) : Double(mantissa) * Self.powerOfTen(exponent)
            value = isNegative ? -magnitude : magnitude
        } else {
            value = try convertSlowly(from: start)  // strtod reads the sign itself
        }
        guard value.isFinite else { throw malformed("number out of the range of a double", at: start) }
        return value
    }

    /// The bytes from `start` to `index` (a valid JSON number) as a double. C: `strtod`,
    /// which stops at the byte after the number. Should a locale other than "C" make `strtod`
    /// stop elsewhere, Swift's locale-independent `Double(String)` decides instead.
    private func convertSlowly(from start: Int) throws(ExtractError) -> Double {
        let length = index - start
        let pointer = UnsafeRawPointer(bytes.baseAddress! + start).assumingMemoryBound(to: CChar.self)
        var end: UnsafeMutablePointer<CChar>?
        let value = strtod(pointer, &end)
        if let end, UnsafeRawPointer(end) - UnsafeRawPointer(pointer) == length { return value }
        guard let parsed = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
            throw malformed("number not understood", at: start)
        }
        return parsed
    }

    /// 10^`exponent` for 0...22, all exact doubles.
    @inline(__always)
    private static func powerOfTen(_ exponent: Int) -> Double {
        switch exponent {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }
}
