import OperatorText
import Wire

/// The live console's frame: the tree with each worker's state, under each worker its stage's
/// progress (a bar with *x of N* when N is known, the rate, an ETA), and the halt reason or last
/// error of any element in trouble. Pure: the same inputs give the same lines.
///
/// Every text a worker or the outside world wrote (reasons, error lines, stage and counter
/// names) is escaped with `OperatorText` before it is placed in a line. Lines are not cut to a
/// width here: `LiveTerminal` does that for the terminal it draws on.
public enum ConsoleView {
    /// - Parameters:
    ///   - title: the first line's start (`cidp up: job`).
    ///   - elapsed: since the run started.
    ///   - tree: the tree's status now.
    ///   - board: the workers' latest progress.
    ///   - now: the monotonic clock the board was fed with.
    public static func frame(title: String, elapsed: Duration, tree: StatusEntry, board: ProgressBoard,
                             now: Duration) -> [String] {
        var lines = ["\(title) · \(clock(elapsed))"]
        lines += entryLines(tree, prefix: "", childPrefix: "", board: board, now: now)
        return lines
    }

    private static func entryLines(_ entry: StatusEntry, prefix: String, childPrefix: String,
                                   board: ProgressBoard, now: Duration) -> [String] {
        var lines: [String] = []
        var head = prefix + entry.name
        head += String(repeating: " ", count: max(1, nameColumn - head.count))
        switch entry.kind {
        case .node:
            head += "\(entry.state) (\(entry.detail))"
        case .worker:
            head += entry.state.padding(to: 11)
            if let pid = entry.pid { head += "pid \(pid)".padding(to: 11) } else { head += "".padding(to: 11) }
            if let uptime = entry.uptime { head += "up " + clock(uptime) + "  " }
            if entry.restarts > 0 { head += "restarts \(entry.restarts)" }
        }
        lines.append(trimmedRight(head))
        let detailPrefix = childPrefix + (entry.children.isEmpty ? "    " : "│   ")
        if entry.kind == .worker, let progress = board.entries[entry.name] {
            lines.append(detailPrefix + progressLine(progress, board: board, now: now))
        }
        if let reason = entry.reason, isInTrouble(entry) {
            let who = entry.haltedBy.map { "halted by \($0): " } ?? ""
            lines.append(detailPrefix + "! " + who + OperatorText.escaped(reason))
        }
        for (index, child) in entry.children.enumerated() {
            let last = index == entry.children.count - 1
            lines += entryLines(child, prefix: childPrefix + (last ? "└─ " : "├─ "),
                                childPrefix: childPrefix + (last ? "   " : "│  "), board: board, now: now)
        }
        return lines
    }

    /// Where the state column starts (the tree's names are policy names: short, plain).
    static let nameColumn = 21

    /// Whether an element's reason is shown: it is degraded, waiting to restart, failed, or held
    /// down by the operator; a halt once, on the node that holds it (its workers only say
    /// `halted`); not the exit of a worker stopped in order.
    static func isInTrouble(_ entry: StatusEntry) -> Bool {
        switch entry.state {
        case "degraded", "restarting", "failed": return true
        case "halted": return entry.kind == .node
        case "stopped", "starting": return entry.reason.map { !$0.hasPrefix("last exit code 0") } ?? false
        default: return false
        }
    }

    /// `load  [██████░░░░░░]  60,000 of 100,000 rows  12,345/s  ETA 0:03`
    static func progressLine(_ entry: ProgressBoard.Entry, board: ProgressBoard, now: Duration) -> String {
        let display = board.display(for: entry.progress)
        let count = entry.progress.counters[display.counter] ?? 0
        let total = display.totalCounter.flatMap { entry.progress.counters[$0] } ?? display.total
        var line = OperatorText.escaped(entry.progress.stage).padding(to: 10)
        let unit = OperatorText.escaped(display.unit)
        if let total, total > 0 {
            let fraction = min(1, max(0, Double(count) / Double(total)))
            line += bar(fraction, width: 20) + "  " + grouped(min(count, total)) + " of " + grouped(total) + " " + unit
        } else {
            line += grouped(count) + " " + unit
        }
        if let total, count >= total {
            line += "  done"
        } else if display.showsRate, let rate = board.rate(of: entry.worker, now: now) {
            line += "  " + grouped(Int64(rate.rounded())) + "/s"
            if let total, rate > 0, count < total {
                let remaining = Double(total - count) / rate
                if remaining.isFinite, remaining < 360_000 { line += "  ETA " + clock(.seconds(remaining)) }
            }
        }
        for key in entry.progress.counters.keys.sorted() where key != display.counter && key != display.totalCounter
            && !key.hasSuffix("_per_s") && ["dropped", "quarantined", "retries", "duplicates"].contains(key) {
            let value = entry.progress.counters[key]!
            if value > 0 { line += "  \(key) \(grouped(value))" }
        }
        return line
    }

    /// `[██████░░░░]`, `width` cells.
    static func bar(_ fraction: Double, width: Int) -> String {
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "]"
    }

    /// `1,234,567`.
    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// `0:07`, `12:03`, `1:02:03`.
    static func clock(_ duration: Duration) -> String {
        let total = max(0, Int(duration.components.seconds))
        let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60)
        let ss = seconds < 10 ? "0\(seconds)" : "\(seconds)"
        if hours > 0 { return "\(hours):" + (minutes < 10 ? "0\(minutes)" : "\(minutes)") + ":" + ss }
        return "\(minutes):" + ss
    }

    private static func trimmedRight(_ text: String) -> String {
        var text = text
        while text.last == " " { text.removeLast() }
        return text
    }
}

extension String {
    /// Padded with spaces to `width` characters (never cut), plus one space when already as wide.
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
