import Foundation
import OperatorText
import Supervisor

/// `cidp status`'s table: presentation, so it lives with the command line, not in the engine.
extension StatusTree {
    /// The tree as aligned text lines: name (indented by depth), state, pid, restarts, uptime,
    /// resident memory, CPU time, rows in and out with the rate, and info: strategy or restart
    /// type, then why — a halted node's `halted by transformer: <reason>` once, on the node, its
    /// workers pointing to it; a worker's trouble, or the cause of its last exit.
    /// Printed by the one table printer (`TextTable`), which shows every cell through
    /// `OperatorText.escaped`: a reason quotes what the world wrote.
    func renderTable() -> String {
        var rows: [[String]] = [["NAME", "STATE", "PID", "RESTARTS", "UPTIME", "RSS", "CPU", "ROWS IN/OUT", "RATE", "BUILD", "INFO"]]
        func walk(_ tree: StatusTree, depth: Int, haltedAbove: StatusTree?) {
            let indent = String(repeating: "  ", count: depth)
            var why = tree.haltedBy.map { "halted by \($0): \(tree.reason ?? "")" } ?? tree.reason
            if let above = haltedAbove, tree.state == "halted", tree.reason == above.reason {
                why = "halted with \(above.name)"
            } else if why == nil, let error = tree.lastError {
                why = "last error: \(error)"
            } else if why == nil, tree.restarts > 0, let exit = tree.lastExit {
                why = "last exit: \(exit)"
            }
            let info = [tree.strategy ?? tree.restart, why].compactMap { $0 }.joined(separator: "; ")
            let flow: String = switch (tree.recordsIn, tree.recordsOut) {
            case (nil, nil): "-"
            case (let input, let output): "\(input.map(String.init) ?? "-")/\(output.map(String.init) ?? "-")"
            }
            let pid: String = tree.pid.map { String($0) } ?? "-"
            let uptime: String = tree.uptimeMs.map(Self.formatUptime) ?? "-"
            let rss: String = tree.rssBytes.map(Self.formatBytes) ?? "-"
            let cpu: String = tree.cpuSeconds.map { String(format: "%.1fs", $0) } ?? "-"
            let rate: String = tree.recordsPerSecond.map { "\($0)/s" } ?? "-"
            let cells: [String] = [indent + tree.name, tree.state, pid, String(tree.restarts), uptime, rss, cpu, flow, rate,
                                   tree.build ?? "-", info]
            rows.append(cells)
            let halted = tree.kind == "node" && tree.state == "halted" && haltedAbove == nil ? tree : haltedAbove
            for child in tree.children ?? [] { walk(child, depth: depth + 1, haltedAbove: halted) }
        }
        walk(self, depth: 0, haltedAbove: nil)
        return TextTable.lines(rows).joined(separator: "\n")
    }

    static func formatBytes(_ bytes: Int64) -> String {
        let mib = Double(bytes) / 1_048_576
        return mib >= 1024 ? String(format: "%.1fG", mib / 1024) : String(format: "%.1fM", mib)
    }

    static func formatUptime(_ ms: Int64) -> String {
        let seconds = ms / 1000
        if seconds < 60 { return String(format: "%.1fs", Double(ms) / 1000) }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds / 3600)h\(seconds % 3600 / 60)m"
    }
}
