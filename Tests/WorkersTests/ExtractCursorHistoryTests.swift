import Testing
@testable import Workers

@Suite struct ExtractCursorHistoryTests {
    @Test func followsCursorsThatAdvance() {
        var history = CursorHistory(start: nil)
        #expect(history.check(next: "1000", after: nil) == nil)
        #expect(history.check(next: "2000", after: "1000") == nil)
        // Opaque cursors: any new one is fine, in any order of their text.
        #expect(history.check(next: "zz", after: "2000") == nil)
        #expect(history.check(next: "aa", after: "zz") == nil)
    }

    @Test func refusesACursorThatDoesNotAdvance() {
        var history = CursorHistory(start: "1000")
        #expect(history.check(next: "1000", after: "1000")
            == "the page at cursor '1000' gives itself as the next page (next_cursor '1000'): the source's cursor does not advance")
    }

    @Test func refusesACursorThatGoesBack() {
        var history = CursorHistory(start: "a")
        #expect(history.check(next: "b", after: "a") == nil)
        #expect(history.check(next: "c", after: "b") == nil)
        #expect(history.check(next: "a", after: "c")
            == "the page at cursor 'c' points back to cursor 'a', read earlier in this run: the source's cursor goes backwards")
        // Digits only: a position, which must grow, even to one this run has not read.
        var numeric = CursorHistory(start: "5000")
        #expect(numeric.check(next: "4000", after: "5000")
            == "the page at cursor '5000' points back to cursor '4000', before it: the source's cursor goes backwards")
        #expect(numeric.check(next: "10000", after: "5000") == nil)
    }

    @Test func remembersABoundedNumberOfCursors() {
        var history = CursorHistory(start: nil)
        var previous: String?
        for index in 0..<(CursorHistory.capacity + 10) {
            let cursor = "c\(index)"
            #expect(history.check(next: cursor, after: previous) == nil)
            previous = cursor
        }
        // The oldest are forgotten; the latest still count.
        #expect(history.check(next: "c0", after: previous) == nil)
        #expect(history.check(next: "c\(CursorHistory.capacity + 5)", after: "c0") != nil)
    }
}
