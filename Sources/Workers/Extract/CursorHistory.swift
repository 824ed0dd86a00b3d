/// The cursors one run of the extractor has followed, so that a source whose `next_cursor`
/// does not advance — the same page again, or back to one already read — is a clear error
/// rather than a loop that reads the same records forever.
///
/// Cursors are the source's own strings: what can be told from the outside is a cursor that
/// repeats one of this run, and, for cursors made only of digits (record offsets, ids), one
/// smaller than the cursor it came from. Pure: no I/O.
struct CursorHistory {
    /// How many of the latest cursors are remembered (a `--follow` run goes on for ever).
    static let capacity = 4096

    private var seen: Set<String> = []
    private var order: [String] = []
    private var oldest = 0

    /// A history holding the run's first cursor (nil: the first page, which has none).
    init(start: String?) {
        if let start { remember(start) }
    }

    /// Checks `next`, the next cursor of the full page read at `current`, and remembers it.
    /// - Returns: nil when the extractor may follow it; else one line saying why not.
    mutating func check(next: String, after current: String?) -> String? {
        let page = current.map { "the page at cursor '\(Self.short($0))'" } ?? "the first page"
        if next == current {
            return "\(page) gives itself as the next page (next_cursor '\(Self.short(next))'): the source's cursor does not advance"
        }
        if seen.contains(next) {
            return "\(page) points back to cursor '\(Self.short(next))', read earlier in this run: the source's cursor goes backwards"
        }
        if let current, let from = Self.integer(current), let to = Self.integer(next), to < from {
            return "\(page) points back to cursor '\(next)', before it: the source's cursor goes backwards"
        }
        remember(next)
        return nil
    }

    private mutating func remember(_ cursor: String) {
        guard seen.insert(cursor).inserted else { return }
        if order.count < Self.capacity {
            order.append(cursor)
        } else {
            seen.remove(order[oldest])
            order[oldest] = cursor
            oldest = (oldest + 1) % Self.capacity
        }
    }

    /// The value of a cursor of 1 to 18 decimal digits; nil for any other.
    private static func integer(_ cursor: String) -> Int64? {
        guard (1...18).contains(cursor.utf8.count), cursor.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
        return Int64(cursor)
    }

    /// A cursor cut to 80 characters for a message.
    private static func short(_ cursor: String) -> String {
        cursor.count > 80 ? cursor.prefix(79) + "…" : cursor
    }
}
