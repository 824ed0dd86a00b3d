import Foundation
import Wire
import LogFormat

/// The root's JSON-lines log of a drill's `cidp up` (`cidp.log` and its rotations, oldest first),
/// where every worker's exit and stderr line is recorded with `worker.name` and `worker.pid`.
struct SupervisorLog {
    let entries: [LogLine]

    /// Reads `directory/cidp.log.K` … `cidp.log.1`, then `cidp.log`; lines that are not log
    /// entries are skipped. A missing directory reads as an empty log.
    init(directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let rotated = names.compactMap { name -> Int? in
            name.hasPrefix("cidp.log.") ? Int(name.dropFirst("cidp.log.".count)) : nil
        }.sorted(by: >)
        var entries: [LogLine] = []
        for file in rotated.map({ "cidp.log.\($0)" }) + ["cidp.log"] {
            guard let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8) else { continue }
            entries += text.split(separator: "\n").compactMap { LogLine.decode($0) }
        }
        self.entries = entries
    }

    /// The entries whose message is `message` (or, with `containing`, holds it) and whose
    /// metadata has every pair of `metadata`.
    func entries(_ message: String, containing: Bool = false, _ metadata: [String: String] = [:]) -> [LogLine] {
        entries.filter { entry in
            (containing ? entry.message.contains(message) : entry.message == message)
                && metadata.allSatisfy { entry.metadata[$0.key] == $0.value }
        }
    }

    /// `exit.status` of every unexpected exit of worker `name`, with its pid, in order.
    func unexpectedExits(of name: String) -> [(pid: String, status: String)] {
        entries("Worker exited unexpectedly", ["worker.name": name]).map {
            ($0.metadata["worker.pid"] ?? "?", $0.metadata["exit.status"] ?? "?")
        }
    }

    /// The first unexpected exit of any worker, with the last line it wrote on stderr:
    /// `loader 123 exit code 1 (loader: batches 6...6: …)`; nil when none.
    func firstUnexpectedExit() -> String? {
        guard let exit = entries("Worker exited unexpectedly").first,
              let name = exit.metadata["worker.name"], let pid = exit.metadata["worker.pid"] else { return nil }
        let said = entries.last { $0.metadata["worker.pid"] == pid && $0.metadata["worker.stream"] == "stderr" }
        return "\(name) \(pid) \(exit.metadata["exit.status"] ?? "?")" + (said.map { " (\($0.message))" } ?? "")
    }

    /// The `error` of every fetch that worker `name` (an extractor) retried because the body
    /// was malformed, in order: its `Fetch failed; retrying` warnings whose error says
    /// `malformed body` (`ExtractorWorker`, `ExtractError`).
    func malformedBodiesRetried(by name: String) -> [String] {
        entries("Fetch failed; retrying", ["worker.name": name]).compactMap { $0.metadata["error"] }
            .filter { $0.contains("malformed body") }
    }

    /// The pid of every spawn of worker `name`, in order.
    func spawnedPIDs(of name: String) -> [String] {
        entries("Worker spawned", ["worker.name": name]).compactMap { $0.metadata["worker.pid"] }
    }
}
