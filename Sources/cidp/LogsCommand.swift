import ArgumentParser
import Posix
import Foundation
import OperatorText
import PolicyRoles
import Supervisor
import Wire
import Workers
#if canImport(Glibc)
import Glibc
import LogFormat
#endif

/// `cidp logs [WORKER…] [-f] [-n N] [--since TIME] [--level L] [--json]`: the root's JSON log
/// (`logs/cidp.log` and its rotations, oldest first), filtered to those workers, each line with
/// the worker's name and pid. `-f` follows the live file across rotations, as `tail -F` does.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show the tree's log (logs/cidp.log and its rotated files), optionally one worker's, and follow it.",
        discussion: """
            Each line: the time (UTC), the level, the worker's name and pid (or 'cidp' for the root's own \
            lines), the message and its fields, escaped as every operator view is. A worker's lines are those \
            it wrote (its stdout and stderr) and the root's lines about it (spawned, ready, exited, restarting, \
            halted, progress). The file holds what its level lets through ([logging] file_level, info by \
            default). Exit codes: 0 done (or -f interrupted); 2 usage error: an unknown worker, a bad --since \
            or --level, no log directory.
            """)

    @Argument(help: "Workers (or nodes) to show; every line when none is given.")
    var workers: [String] = []
    @Flag(name: [.customShort("f"), .long], help: "Keep printing new lines as they are written, across rotations, until interrupted.")
    var follow = false
    @Option(name: [.customShort("n"), .long], help: "Print only the last N matching lines (with -f: 10 unless given).")
    var lines: Int?
    @Option(help: "Only lines from this time on: a duration ago (90s, 15m, 2h, 1d) or a UTC time (2026-12-04, 2026-12-04T18:30, 2026-12-04T18:30:05Z).")
    var since: String?
    @Option(help: "Only lines at this level or above (trace, debug, info, notice, warning, error, critical).")
    var level: String?
    @Flag(help: "Print each line as the JSON object the log holds.")
    var json = false
    @Option(help: "The policy whose [logging] dir holds the log, and whose workers the names must be.")
    var policy: String = "policies/default.toml"
    @Option(help: "The log directory; overrides the policy's [logging] dir.")
    var logDir: String?

    func validate() throws {
        if let lines, lines < 0 { throw ValidationError("-n expects a number of lines >= 0, got \(lines)") }
    }

    func run() throws {
        var filter = LogFilter(workers: Set(workers))
        if let level {
            guard let index = LogLine.levelNames.firstIndex(of: level.lowercased()) else {
                throw CLIExit.usage("--level: unknown level '\(OperatorText.escaped(level))'; expected one of: "
                    + LogLine.levelNames.joined(separator: ", "))
            }
            filter.minimumLevel = index
        }
        if let since {
            guard let from = LogFilter.timestamp(since: since, now: Date()) else {
                throw CLIExit.usage("--since: cannot read '\(OperatorText.escaped(since))'; expected a duration ago "
                    + "(90s, 15m, 2h, 1d) or a UTC time (2026-12-04, 2026-12-04T18:30, 2026-12-04T18:30:05Z)")
            }
            filter.since = from
        }
        let directory = try logDirectory()
        let files = LogFiles(directory: directory)
        guard files.directoryExists else {
            throw CLIExit.usage("no log directory '\(OperatorText.escaped(directory))' (has 'cidp up' run here? --log-dir or --policy say where)")
        }
        let out = LineWriter()
        let limit = lines ?? (follow ? 10 : nil)
        // The live file through a descriptor kept open: what -f follows from exactly where this read ended.
        var live = LiveLogFile(path: files.livePath)
        let liveLines = live.readLines()
        let readFile = { (path: String) -> [Substring] in
            guard let data = FileManager.default.contents(atPath: path) else { return [] }
            return String(decoding: data, as: UTF8.self).split(separator: "\n")
        }
        var shown: [String] = []
        if let limit {
            // The last N: newest file first, each from its end, and no further than needed
            // (a full rotation set is tens of megabytes).
            var older = files.rotated().reversed().makeIterator()
            var chunk: [Substring]? = liveLines
            collecting: while shown.count < limit, let lines = chunk {
                for line in lines.reversed() {
                    guard shown.count < limit else { break collecting }
                    if let text = render(line, filter: filter) { shown.append(text) }
                }
                chunk = older.next().map(readFile)
            }
            shown.reverse()
        } else {
            for path in files.rotated() {
                shown += readFile(path).compactMap { render($0, filter: filter) }
            }
            shown += liveLines.compactMap { render($0, filter: filter) }
        }
        out.write(shown)
        guard follow else { return }
        while true {
            var fresh = live.readLines()
            if fresh.isEmpty {
                guard let rest = live.switchIfRotated() else {
                    Posix.sleep(for: .milliseconds(200))
                    continue
                }
                fresh = rest
            }
            out.write(fresh.compactMap { render($0, filter: filter) })
        }
    }

    /// The directory: `--log-dir`, else the policy's `[logging] dir` (its default `logs` without a policy file).
    private func logDirectory() throws -> String {
        if let logDir { return logDir }
        guard FileManager.default.fileExists(atPath: policy) else {
            // Without the default policy file, its default directory; a policy named on the command line must exist.
            guard policy == "policies/default.toml" else {
                throw CLIExit.usage("--policy: no file '\(OperatorText.escaped(policy))'")
            }
            return LogSettings().directory
        }
        let loaded: Policy
        do {
            loaded = try PolicyLoader.load(path: policy, executable: Posix.executablePath(),
                                           roles: WorkerRole.policySchemas)
        } catch {
            throw CLIExit.usage("\(error)")
        }
        let known = Self.names(in: loaded.root)
        for worker in workers where !known.contains(worker) {
            throw CLIExit.usage("unknown worker '\(OperatorText.escaped(worker))' in policy '\(OperatorText.escaped(policy))'; "
                + "its workers and nodes are: \(known.sorted().joined(separator: ", "))")
        }
        return loaded.logging.directory
    }

    private static func names(in node: NodeSpec) -> Set<String> {
        var names: Set<String> = [node.name]
        for child in node.children {
            switch child {
            case .worker(let spec): names.insert(spec.name)
            case .node(let inner): names.formUnion(Self.names(in: inner))
            }
        }
        return names
    }

    /// The line as printed, or nil when it is filtered out or is not a log entry.
    private func render(_ raw: Substring, filter: LogFilter) -> String? {
        // Names are policy names (no character JSON escapes): a line about a worker holds it quoted.
        // Most lines are not about the workers asked for; this skips decoding them.
        if !filter.quotedWorkers.isEmpty, !filter.quotedWorkers.contains(where: { raw.contains($0) }) { return nil }
        guard let entry = LogLine.decode(raw), filter.matches(entry) else { return nil }
        return json ? entry.encoded() : LogFilter.text(of: entry)
    }
}

/// Which log entries `cidp logs` prints, and how it prints them.
struct LogFilter {
    let workers: Set<String>
    /// `"loader"`: what a line about a worker holds, before it is decoded; empty (no shortcut)
    /// when a name has a character JSON could escape.
    let quotedWorkers: [String]

    init(workers: Set<String>) {
        self.workers = workers
        let plain = workers.allSatisfy { name in
            name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
        }
        quotedWorkers = plain ? workers.map { "\"" + $0 + "\"" } : []
    }
    /// Index into `LogLine.levelNames`.
    var minimumLevel = 0
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`: entries stamped earlier are left out.
    var since: String?

    /// The metadata keys that name the worker an entry is about: its own lines (`worker.name`),
    /// and the root's notices about it (`worker` in halts, `child.id` in restarts).
    static let workerKeys = ["worker.name", "worker", "child.id"]

    /// Whose entry it is: the worker's name, or nil for the root's own.
    static func worker(of entry: LogLine) -> String? {
        workerKeys.lazy.compactMap { entry.metadata[$0] }.first
    }

    func matches(_ entry: LogLine) -> Bool {
        if !workers.isEmpty {
            guard Self.workerKeys.contains(where: { entry.metadata[$0].map(workers.contains) ?? false }) else { return false }
        }
        if minimumLevel > 0 {
            guard let index = LogLine.levelNames.firstIndex(of: entry.level), index >= minimumLevel else { return false }
        }
        if let since {
            guard let stamp = entry.timestamp, stamp >= since else { return false }
        }
        return true
    }

    /// `2026-12-04T18:07:41.123Z INFO    loader[4242]: Batch committed batch=12 rows=1000`, escaped.
    static func text(of entry: LogLine) -> String {
        let who: String
        if let name = worker(of: entry) {
            who = name + (entry.metadata["worker.pid"].map { "[\($0)]" } ?? "")
        } else {
            who = "cidp" + (entry.metadata["supervisor.pid"].map { "[\($0)]" } ?? "")
        }
        let shown = Set(workerKeys + ["worker.pid", "worker.stream", "worker.label", "event"])
        var line = (entry.timestamp ?? "-") + " " + entry.level.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)
        line += OperatorText.escaped(who) + ": " + OperatorText.escaped(entry.message)
        for key in entry.metadata.keys.sorted() where !shown.contains(key) || (key == "worker" && entry.metadata["worker.name"] != nil) {
            let value = OperatorText.escaped(entry.metadata[key]!)
            let quoted = value.isEmpty || value.contains(" ") || value.contains("=") ? "\"" + value + "\"" : value
            line += " " + OperatorText.escaped(key) + "=" + quoted
        }
        return line
    }

    /// The earliest timestamp `--since TEXT` lets through, in the log's own format, or nil when
    /// TEXT is neither a duration ago (`90s`, `15m`, `2h`, `1d`) nor a UTC date or time.
    static func timestamp(since text: String, now: Date) -> String? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        if let unit = text.last, let amount = Double(text.dropLast()), amount >= 0,
           let scale = ["s": 1.0, "m": 60, "h": 3600, "d": 86_400][String(unit)] {
            return formatter.string(from: now.addingTimeInterval(-amount * scale))
        }
        // 2026-12-04, 2026-12-04T18:30, 2026-12-04 18:30:05, with or without Z and fractions.
        var value = text.replacingOccurrences(of: " ", with: "T")
        if value.hasSuffix("Z") { value.removeLast() }
        let pattern = #"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?$"#
        guard value.range(of: pattern, options: .regularExpression) != nil else { return nil }
        let full = "0000-00-00T00:00:00.000"
        if value.count < full.count { value += full.dropFirst(value.count) }
        return value + "Z"
    }
}

/// The log's files: `cidp.log.N` … `cidp.log.1` (oldest first), then the live `cidp.log`.
struct LogFiles {
    let directory: String
    var livePath: String { (directory.hasSuffix("/") ? directory : directory + "/") + "cidp.log" }

    var directoryExists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The rotated files that exist, oldest (highest number) first.
    func rotated() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let generations = names.compactMap { name -> Int? in
            guard name.hasPrefix("cidp.log.") else { return nil }
            return Int(name.dropFirst("cidp.log.".count))
        }
        return generations.sorted(by: >).map { livePath + ".\($0)" }
    }
}

/// The live log file, read through a descriptor that stays on the file it opened: after a
/// rotation (`cidp.log` renamed to `cidp.log.1`) the rest of the old file is read to its end,
/// then the new `cidp.log` from its start — `tail -F`.
struct LiveLogFile {
    let path: String
    private var fd: FileDescriptor?
    private var inode: UInt64 = 0
    private var pending: [UInt8] = []

    init(path: String) {
        self.path = path
        open()
    }

    private mutating func open() {
        guard let opened = try? Posix.open(path, O_RDONLY | O_CLOEXEC) else { return }
        guard let status = try? Posix.status(of: opened) else { Posix.close(opened); return }
        fd = opened
        inode = UInt64(status.st_ino)
        pending = []
    }

    /// The whole lines written since the last call.
    mutating func readLines() -> [Substring] {
        guard let fd else { open(); return fd != nil ? readLines() : [] }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while let count = try? Posix.readAvailable(fd, into: &buffer), count > 0 { pending += buffer[..<count] }
        guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let text = String(decoding: pending[...last], as: UTF8.self)
        pending.removeSubrange(...last)
        return text.split(separator: "\n")
    }

    /// When `path` is now another file (rotated) or this one was truncated: switches to reading
    /// it from its start.
    /// - Returns: nil when nothing changed; else the old file's last lines (written between the
    ///   last read and the rotation), which the caller prints before the new file's.
    mutating func switchIfRotated() -> [Substring]? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        if let fd, UInt64(status.st_ino) == inode {
            let position = lseek(fd.rawValue, 0, SEEK_CUR)
            guard position > Int(status.st_size) else { return nil }
            _ = lseek(fd.rawValue, 0, SEEK_SET)
            pending = []
            return []
        }
        let rest = fd != nil ? readLines() : []
        if let fd { Posix.close(fd) }
        fd = nil
        open()
        return rest
    }
}

/// Writes lines straight to standard output, unbuffered: a follower's reader sees each at once.
struct LineWriter {
    func write(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        // The reader went away (`cidp logs -f | head`): done.
        if Posix.writeFully(.standardOutput, bytes).error != nil { Glibc.exit(0) }
    }
}
