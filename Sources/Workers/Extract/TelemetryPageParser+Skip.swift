extension TelemetryPageParser {
    /// The deepest nesting of arrays and objects accepted inside a field the page does not need.
    static let maximumSkippedDepth = 512

    // MARK: Skipping a field

    /// Checks that the value at `index` is JSON and moves past it: a field a source sends that
    /// the page does not need (`"meta":{…}`).
    ///
    /// Iterative, with an explicit stack of the open arrays and objects, so no nesting can exhaust
    /// the thread's stack; nesting deeper than `maximumSkippedDepth` is refused. Strings are
    /// checked as any string is (escapes, UTF-8), numbers against JSON's grammar and a double's range.
    mutating func skipValue() throws(ExtractError) {
        // `true` for an object, `false` for an array; allocated only for containers.
        var open: [Bool] = []
        while true {
            // One value (or the start of a container).
            skipWhitespace()
            switch current {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = current == UInt8(ascii: "{")
                index += 1
                skipWhitespace()
                if current == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    index += 1
                    break  // an empty container is a whole value
                }
                guard open.count < Self.maximumSkippedDepth else {
                    throw malformed("nesting deeper than \(Self.maximumSkippedDepth) levels")
                }
                open.append(isObject)
                if isObject { try skipKey() }
                continue
            case UInt8(ascii: "\""):
                let token = try scanString()
                if token.hasEscapes || !token.isASCII { _ = try decodeString(token) }
            case UInt8(ascii: "t"):
                try expectLiteral("true", "a JSON value")
            case UInt8(ascii: "f"):
                try expectLiteral("false", "a JSON value")
            case UInt8(ascii: "n"):
                try expectNull("a JSON value")
            default:
                guard current == UInt8(ascii: "-") || isDigit(current) else { throw expected("a JSON value") }
                _ = try parseNumber()
            }
            // After a value: close what ends here, or go on to the next element.
            while let isObject = open.last {
                skipWhitespace()
                let byte = current
                if byte == UInt8(ascii: ",") {
                    index += 1
                    if isObject { try skipKey() }
                    break
                }
                guard byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    throw expected(isObject ? "',' or '}'" : "',' or ']'")
                }
                index += 1
                open.removeLast()
            }
            if open.isEmpty { return }
        }
    }

    /// A key and its colon inside a skipped object.
    private mutating func skipKey() throws(ExtractError) {
        skipWhitespace()
        let token = try scanString()
        if token.hasEscapes || !token.isASCII { _ = try decodeString(token) }
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "':' after a key")
    }
}
