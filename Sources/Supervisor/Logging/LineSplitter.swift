/// Cuts a byte stream (a worker's stdout or stderr, read in arbitrary chunks) into text lines.
///
/// Lines come back without their `\n` (and without a `\r` just before it); invalid UTF-8 is
/// repaired with U+FFFD. A line longer than `maxLineBytes` comes back in pieces of at most
/// `maxLineBytes` bytes, cut before a UTF-8 sequence rather than inside it, so a worker that never
/// prints a newline cannot make the supervisor buffer without bound.
public struct LineSplitter {
    public let maxLineBytes: Int
    /// Bytes after the last newline; never more than `maxLineBytes` between calls.
    private var pending: [UInt8] = []
    /// The previous piece was cut from an overlong line: a newline right after it ends that line
    /// rather than starting an empty one.
    private var isAfterCut = false

    /// - Parameter maxLineBytes: the longest piece returned, in bytes; at least 4 (one UTF-8 scalar).
    public init(maxLineBytes: Int = 16_384) {
        precondition(maxLineBytes >= 4, "maxLineBytes must hold at least one UTF-8 scalar")
        self.maxLineBytes = maxLineBytes
    }

    /// Adds a chunk and returns the lines it completes, in order; the unterminated rest is kept.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var lines: [String] = []
        var lineStart = 0
        pending.append(contentsOf: bytes)
        var index = pending.count - bytes.count
        while let newline = pending[index...].firstIndex(of: UInt8(ascii: "\n")) {
            var lineEnd = newline
            if lineEnd > lineStart && pending[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            if !(isAfterCut && lineEnd == lineStart) {
                emitPieces(pending[lineStart..<lineEnd], into: &lines)
            }
            isAfterCut = false
            lineStart = newline + 1
            index = lineStart
        }
        // Hold at most maxLineBytes; anything beyond is a piece of an overlong line.
        while pending.count - lineStart > maxLineBytes {
            let cut = cutPoint(in: pending[lineStart...])
            lines.append(String(decoding: pending[lineStart..<cut], as: UTF8.self))
            lineStart = cut
            isAfterCut = true
        }
        pending.removeFirst(lineStart)
        return lines
    }

    /// At end of stream: the unterminated last line (a trailing `\r` stripped), or `nil` if there is none.
    public mutating func finish() -> String? {
        defer {
            pending.removeAll()
            isAfterCut = false
        }
        var tail = pending[...]
        if tail.last == UInt8(ascii: "\r") { tail = tail.dropLast() }
        guard !tail.isEmpty else { return nil }
        return String(decoding: tail, as: UTF8.self)
    }

    private func emitPieces(_ line: ArraySlice<UInt8>, into lines: inout [String]) {
        var rest = line
        while rest.count > maxLineBytes {
            let cut = cutPoint(in: rest)
            lines.append(String(decoding: rest[rest.startIndex..<cut], as: UTF8.self))
            rest = rest[cut...]
        }
        lines.append(String(decoding: rest, as: UTF8.self))
    }

    /// Where to end a piece of `bytes` (longer than `maxLineBytes`): at `maxLineBytes`, moved back
    /// before a UTF-8 sequence that would otherwise be split (at most 3 bytes; invalid data is cut anywhere).
    private func cutPoint(in bytes: ArraySlice<UInt8>) -> Int {
        let limit = bytes.startIndex + maxLineBytes
        var cut = limit
        while cut > limit - 3 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        // Cut before the lead byte only if the sequence it starts really extends past the limit.
        if cut != limit, bytes[cut] & 0xC0 == 0xC0, cut + Self.sequenceLength(bytes[cut]) > limit { return cut }
        return limit
    }

    private static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        default: return 2
        }
    }
}
