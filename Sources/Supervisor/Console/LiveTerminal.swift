import Posix
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Draws the live console in place on a terminal (standard output), and lets log lines print
/// above it: the view is erased, the line written, the view drawn again.
///
/// Plain ANSI sequences (cursor up `CSI n A`, erase below `CSI J`), no terminal library: of the
/// packages available here, Rainbow only colours text and ConsoleKit's activity indicators draw
/// one line and bring their own output stack; an in-place multi-line redraw that must share the
/// terminal with our log lines needs only these two sequences, which every terminal since the
/// VT100 understands.
///
/// The terminal's size is read (`ioctl(TIOCGWINSZ)`) at every redraw, so a resize takes effect at
/// the next one without a SIGWINCH handler (the root's signals go through a signalfd and its loop
/// redraws a few times a second anyway). Lines wider than the terminal are cut (ending `…`), so
/// none wraps and the cursor arithmetic stays right; a view taller than the terminal is cut too.
///
/// Writes are small and go to a terminal: the root's loop does them itself. A redraw is skipped
/// while the terminal has not taken the previous frames (`TIOCOUTQ`: a terminal stopped with
/// Ctrl-S, a slow link), so that the view never blocks the loop; the next redraw catches up. One
/// lock around every write, so a log line from another thread never lands inside a frame.
public final class LiveTerminal: @unchecked Sendable {
    /// Where the view is drawn (standard output).
    public let fd: FileDescriptor
    /// Whether log lines (standard error) go to a terminal too: then the view is erased around them.
    private let logsShareTerminal: Bool

    private let lock = NSLock()
    // Guarded by `lock`.
    private var frame: [String] = []
    /// The lines as drawn last (cut to the width then), and that width: what to erase.
    private var drawn: [String] = []
    private var isFinished = false

    /// A live terminal on standard output, or nil when standard output is not a terminal (a pipe,
    /// a file, journald) or `TERM` is `dumb` or unset.
    public static func onStandardOutput() -> LiveTerminal? {
        guard Posix.isTerminal(.standardOutput) else { return nil }
        let term = getenv("TERM").map { String(cString: $0) } ?? ""
        guard !term.isEmpty, term != "dumb" else { return nil }
        return LiveTerminal(fd: .standardOutput, logsShareTerminal: Posix.isTerminal(.standardError))
    }

    init(fd: FileDescriptor, logsShareTerminal: Bool) {
        self.fd = fd
        self.logsShareTerminal = logsShareTerminal
    }

    /// The terminal's size now; 80×24 when it cannot tell (a size of 0 from a pseudo-terminal
    /// nobody sized).
    public func size() -> (columns: Int, rows: Int) {
        guard let (columns, rows) = Posix.terminalSize(fd) else { return (80, 24) }
        return (columns > 0 ? columns : 80, rows > 0 ? rows : 24)
    }

    /// Replaces the view with `lines`.
    public func draw(_ lines: [String]) {
        lock.lock()
        defer { lock.unlock() }
        guard !isFinished else { return }
        frame = lines
        // The terminal has not taken what was written before: a write now could block the loop.
        guard (Posix.terminalPendingOutput(fd) ?? -1) < Self.backlogLimit else { return }
        let size = size()
        var out = erase(columns: size.columns)
        out += render(columns: size.columns, rows: size.rows)
        write(out)
    }

    /// Writes `bytes` (one or more whole log lines) to `logFD` above the view.
    public func printAbove(_ bytes: [UInt8], logFD: FileDescriptor) {
        lock.lock()
        defer { lock.unlock() }
        guard logsShareTerminal, !isFinished, !drawn.isEmpty else {
            _ = Self.writeAll(logFD, bytes)
            return
        }
        let size = size()
        write(erase(columns: size.columns))
        _ = Self.writeAll(logFD, bytes)
        write(render(columns: size.columns, rows: size.rows))
    }

    /// Draws `lines` a last time and leaves them on the screen; later draws do nothing, and log
    /// lines print as usual below.
    public func finish(_ lines: [String]) {
        draw(lines)
        lock.lock()
        isFinished = true
        lock.unlock()
    }

    // MARK: - Caller holds the lock

    /// Moves to the first line of the view and erases from there down. A line drawn at an earlier,
    /// wider size may now take several rows (terminals that re-wrap on resize): counted as such.
    private func erase(columns: Int) -> String {
        guard !drawn.isEmpty else { return "" }
        let rows = drawn.reduce(0) { $0 + max(1, ($1.count + columns - 1) / columns) }
        drawn = []
        return "\r\u{1B}[\(rows)A\u{1B}[J"
    }

    private func render(columns: Int, rows: Int) -> String {
        var lines = frame.map { Self.cut($0, to: columns - 1) }
        if lines.count > rows - 1 {
            let kept = max(1, rows - 2)
            lines = Array(lines.prefix(kept)) + [Self.cut("… \(frame.count - kept) more lines (a taller terminal shows them)", to: columns - 1)]
        }
        drawn = lines
        return lines.map { $0 + "\n" }.joined()
    }

    /// Bytes queued for the terminal past which a redraw waits (a frame is 1–3 KB; a terminal's
    /// output queue holds at least 4 KB).
    static let backlogLimit: Int32 = 2048

    /// `line` cut to `width` characters, the last one `…` when cut.
    static func cut(_ line: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        guard line.count > width else { return line }
        return String(line.prefix(width - 1)) + "…"
    }

    private func write(_ text: String) {
        guard !text.isEmpty else { return }
        _ = Self.writeAll(fd, Array(text.utf8))
    }

    static func writeAll(_ fd: FileDescriptor, _ bytes: [UInt8]) -> Bool {
        Posix.writeFully(fd, bytes).error == nil
    }
}
