import CShims
import Posix
import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal a test runs `cidp up` on, as a terminal emulator would: the test holds the
/// master side, sets its size (a resize), and reads everything the program drew.
final class PseudoTerminal {
    let master: Int32
    let slavePath: String
    private(set) var output: [UInt8] = []

    init(columns: Int32, rows: Int32) throws {
        var name = [CChar](repeating: 0, count: 256)
        master = cshims_open_pseudo_terminal(&name, name.count)
        guard master >= 0 else { throw Errno.current }
        slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        resize(columns: columns, rows: rows)
    }

    deinit { close(master) }

    /// As a terminal emulator does when its window changes size.
    func resize(columns: Int32, rows: Int32) {
        try? Posix.setTerminalSize(FileDescriptor(rawValue: master), columns: Int(columns), rows: Int(rows))
    }

    /// Reads what is there without blocking (the program blocks once the terminal's buffer is full).
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            var descriptor = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) == 1, descriptor.revents & Int16(POLLIN) != 0 else { return }
            let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            output += buffer[..<count]
        }
    }

    var text: String { String(decoding: output, as: UTF8.self) }

    /// Starts `cidp ARGUMENTS` in `sandbox` with the terminal as its standard output and error.
    func start(_ arguments: [String], in sandbox: Sandbox) throws -> Process {
        let slave = open(slavePath, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw Errno.current }
        defer { close(slave) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cidpBinary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: sandbox.path)
        process.environment = ProcessInfo.processInfo.environment.merging(["TERM": "xterm-256color"]) { $1 }
        let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// `cidp up`'s console: the live view on a terminal, concise lines on a pipe.
@Suite(.timeLimit(.minutes(3)))
struct ConsoleTests {
    /// What the live view writes before each redraw: back to its first line, erase downwards.
    static func redraws(in text: String) -> Int {
        text.components(separatedBy: "\u{1B}[J").count - 1
    }

    /// The lines drawn after the `index`-th erase, escape sequences and carriage returns removed.
    static func visibleLines(_ text: String) -> [String] {
        let stripped = text.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
            .replacingOccurrences(of: "\r", with: "")
        return stripped.split(separator: "\n").map(String.init)
    }

    @Test func onATerminalTheViewRedrawsInPlaceAndTheSummaryFollows() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let terminal = try PseudoTerminal(columns: 120, rows: 40)
        let process = try terminal.start(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                          "--records", "200000", "--db", db], in: sandbox)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // Mid-job, once frames show the loader's x of N: narrower than the view for a few redraws
        // (its lines must be cut, never wrapped), then wide again.
        var resizedAt: Int?
        var restoredAt: Int?
        let sawProgress = poll(timeout: .seconds(120)) {
            terminal.drain()
            if resizedAt == nil, Self.redraws(in: terminal.text) >= 3, terminal.text.contains(" of 200,000 rows") {
                terminal.resize(columns: 50, rows: 40)
                resizedAt = terminal.output.count
            }
            if let resizedAt, restoredAt == nil,
               Self.redraws(in: String(decoding: terminal.output[resizedAt...], as: UTF8.self)) >= 4 {
                terminal.resize(columns: 120, rows: 40)
                restoredAt = terminal.output.count
            }
            return restoredAt != nil || !process.isRunning
        }
        #expect(sawProgress && restoredAt != nil, "\(terminal.text.suffix(3000))")
        #expect(poll(timeout: .seconds(150)) { terminal.drain(); return !process.isRunning })
        process.waitUntilExit()
        terminal.drain()
        let text = terminal.text
        #expect(process.terminationStatus == 0, "\(text.suffix(3000))")

        // The view was redrawn many times, with the loader's count moving through x of N.
        #expect(Self.redraws(in: text) >= 5, "\(text.suffix(3000))")
        let counts = Set(text.matches(of: #/load +\[[█░]+\] +([0-9,]+) of 200,000 rows/#).map { String($0.output.1) })
        #expect(counts.count >= 2, "the loader's progress did not move in the view: \(counts)")
        #expect(text.contains("├─ etl") && text.contains("extractor") && text.contains("└─ trainer"), "\(text.suffix(3000))")
        // Progress is the view's: no progress log lines scroll past it.
        #expect(!text.contains(": Progress"), "\(text.suffix(3000))")
        // After the resize the view fits the 50 columns (cut lines end with an ellipsis).
        if let resizedAt, let restoredAt {
            // The first frame after the resize may have been drawn before it: from the second on.
            let narrow = String(decoding: terminal.output[resizedAt..<restoredAt], as: UTF8.self)
            let frames = narrow.components(separatedBy: "\u{1B}[J").dropFirst(2)
            let treeLines = frames.flatMap { Self.visibleLines($0) }.filter { $0.contains("─ ") }
            #expect(!treeLines.isEmpty)
            for line in treeLines { #expect(line.count <= 49, "wider than the terminal: \(line)") }
            #expect(treeLines.contains { $0.hasSuffix("…") }, "\(treeLines.prefix(20))")
        }
        // The summary, once, after the last frame.
        let last = text.components(separatedBy: "\u{1B}[J").last ?? ""
        #expect(last.contains("summary: this run loaded 200000 rows"), "\(last)")
        try EtlTests.checkWarehouseCount(db, 200_000)
    }

    @Test func warningsPrintAsLinesAboveTheView() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let terminal = try PseudoTerminal(columns: 120, rows: 40)
        // Some of the simulator's answers are HTTP 500: the extractor warns and retries.
        let process = try terminal.start(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                          "--records", "20000", "--db", db, "--sim-fault", "http500=0.2"], in: sandbox)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(poll(timeout: .seconds(120)) { terminal.drain(); return !process.isRunning })
        process.waitUntilExit()
        terminal.drain()
        let text = terminal.text
        #expect(process.terminationStatus == 0, "\(text.suffix(3000))")
        // Each warning is a whole line of its own, after the view was erased, and the view is drawn again below it.
        let segments = text.components(separatedBy: "\u{1B}[J")
        let warned = segments.dropLast().filter { $0.contains(" WARNING ") && $0.contains("Fetch failed; retrying") }
        #expect(!warned.isEmpty, "\(text.suffix(3000))")
        for segment in warned {
            let line = try #require(Self.visibleLines(segment).first { $0.contains("Fetch failed; retrying") })
            #expect(line.contains(" WARNING cidp.supervisor: Fetch failed; retrying"), "\(line)")
        }
        // Info lines stay off the view (its floor is warning): no 'Worker spawned' scrolled past.
        #expect(!text.contains("Worker spawned"))
        #expect((segments.last ?? "").contains("summary: this run loaded 20000 rows"), "\(segments.last ?? "")")
    }

    @Test func onAPipeIdleStagesPrintNoProgressLines() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        // A source that stops growing: once its full pages (2 of 1000 records; --follow leaves the
        // last, partial page, which may still grow) are loaded, every stage is idle.
        let supervisor = try sandbox.up(["--follow", "--records", "2500", "--sim-rate", "0", "--db", db],
                                        waitUntilReady: false)
        #expect(poll(timeout: .seconds(60)) { EtlTests.rowCount(db) >= 2_000 }, "\(supervisor.log.suffix(3000))")
        let progressLines = { supervisor.log.split(separator: "\n").filter { $0.contains(": Progress ") } }
        // A changed stage may still get its one last line (at most every 5 s); then none, however long it idles.
        poll(timeout: .seconds(8)) { false }
        let settled = progressLines().count
        poll(timeout: .seconds(8)) { false }
        #expect(progressLines().count == settled, "idle stages printed progress: \(progressLines().suffix(6))")
        // While it moved, it did print (concise) progress lines, with the stage's count.
        #expect(progressLines().contains { $0.contains("stage=load") && $0.contains("rows_loaded=2000") },
                "\(progressLines())")
        #expect(!progressLines().contains { $0.contains("rows_loaded=0 ") && $0.contains("rows_loaded_per_s=0") })
        #expect(try supervisor.stop() == 0)
    }

    @Test func quietPrintsOnlyTheSummary() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let result = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                       "--records", "3000", "--db", db, "--quiet"], timeout: .seconds(120))
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("summary: this run loaded 3000 rows"), "\(result.stdout)")
    }
}

extension EtlTests {
    /// The fact table's row count (0 while there is no warehouse yet).
    static func rowCount(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path),
              let warehouse = try? Warehouse(path: path, busyTimeout: .milliseconds(100)) else { return 0 }
        return (try? warehouse.rowCount()) ?? 0
    }

    static func checkWarehouseCount(_ path: String, _ count: Int64, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(rowCount(path) == count, sourceLocation: sourceLocation)
    }
}
