/// Where extraction stands in the source: the page to ask for next, and how many records at its
/// head the warehouse already holds.
///
/// A position is what a committed batch leaves behind, so that the next run — or a restarted
/// extractor — continues exactly where the warehouse stands: a page the source had only partly
/// filled (the end of what it had, "for now") is asked for again and its first `skip` records
/// are passed over. It rests on the source's contract (README, "The source contract"): history
/// does not change, and a cursor the source gave can be asked for again.
public struct SourcePosition: Equatable, Sendable, CustomStringConvertible {
    /// The page's cursor; nil for the source's first page (asked for without a cursor).
    public var cursor: String?
    /// Records at the head of that page already taken.
    public var skip: Int

    public init(cursor: String?, skip: Int = 0) {
        self.cursor = cursor
        self.skip = skip
    }

    /// The source's first page, nothing taken.
    public static let start = SourcePosition(cursor: nil)

    /// The longest cursor the warehouse keeps, in bytes.
    public static let maxCursorBytes = 1024

    /// Why `cursor`, as a source sent it, cannot be a position: empty, longer than
    /// `maxCursorBytes`, or holding a byte outside printable ASCII (a control character, an
    /// escape sequence, anything a terminal or a log would render). Nil when it can.
    public static func problem(withCursor cursor: String) -> String? {
        let bytes = cursor.utf8
        guard !bytes.isEmpty else { return "is empty" }
        guard bytes.count <= maxCursorBytes else {
            return "is \(bytes.count) bytes long, over the \(maxCursorBytes) the warehouse keeps"
        }
        if let index = bytes.firstIndex(where: { $0 < 0x20 || $0 > 0x7E }) {
            let offset = bytes.distance(from: bytes.startIndex, to: index)
            return "has byte 0x\(String(bytes[index], radix: 16)) at \(offset), outside printable ASCII"
        }
        return nil
    }

    /// `cursor '7000'`, `the first page`, with `, after its first 500 records` when some are taken.
    public var description: String {
        (cursor.map { "cursor '\($0)'" } ?? "the first page") + (skip > 0 ? ", after its first \(skip) records" : "")
    }
}
