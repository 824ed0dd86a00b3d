import Logging
import Supervisor
import Testing
import Wire
import LogFormat

private struct DiskFull: Error, CustomStringConvertible {
    var description: String { "disk full" }
}

@Suite struct LoggingHandlersTests {
    private static let fixedTime = LogTimestamp(secondsSinceEpoch: 1_714_566_896, milliseconds: 7, utcOffsetSeconds: 0)

    @Test func formatsAConsoleLineWithSortedMetadata() {
        let line = ConsoleLogHandler.format(timestamp: Self.fixedTime, level: .notice, label: "cidp",
                                            message: "Child restarted",
                                            metadata: ["exit.status": "1", "child.id": "loader"])
        #expect(line == "12:34:56.007 NOTICE cidp: Child restarted child.id=loader exit.status=1")
    }

    @Test func consoleTimeIsLocalTimeOfDay() {
        var time = Self.fixedTime
        time.utcOffsetSeconds = 2 * 3600
        #expect(ConsoleLogHandler.format(timestamp: time, level: .info, label: "l", message: "m", metadata: [:])
            == "14:34:56.007 INFO l: m")
        time.utcOffsetSeconds = -13 * 3600
        time.milliseconds = 999
        #expect(time.localTimeOfDay == "23:34:56.999")
    }

    @Test func consoleEscapesControlCharactersAndQuotesAwkwardValues() {
        let line = ConsoleLogHandler.format(timestamp: Self.fixedTime, level: .error, label: "cidp",
                                            message: "two\nlines\t\u{1B}[31m",
                                            metadata: ["empty": "", "spaced": "a b", "quoted": "say \"hi\"",
                                                       "eq": "a=b", "plain": "déjà", "ctl": "x\ry"])
        #expect(line == #"12:34:56.007 ERROR cidp: two\nlines\t\u001b[31m ctl=x\ry empty="" eq="a=b" plain=déjà quoted="say \"hi\"" spaced="a b""#)
        #expect(!line.contains("\n"))
    }

    @Test func jsonHandlerWritesOneDecodableLinePerEntry() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path, maxBytes: 10_000, keep: 1)
        var handler = JSONLinesLogHandler(label: "cidp.engine", file: file, metadataProvider: .init { ["from": "provider", "trace.id": "t1"] },
                                          now: { Self.fixedTime })
        handler[metadataKey: "from"] = "handler"
        handler[metadataKey: "node"] = "etl"
        let logger = Logger(label: "cidp.engine") { _ in handler }
        logger.debug("Child started", metadata: ["child.id": "loader", "trace.id": "t2",
                                                  "http": ["status": .stringConvertible(200), "headers": ["b": "2", "a": "1"]],
                                                  "http.status": "explicit wins", "tags": ["x", ["k": "v"]], "none": [:]])
        logger.trace("below the handler's level")
        logger.error("Commit failed", error: DiskFull())
        file.close()
        let lines = try directory.contents(of: "cidp.log").split(separator: "\n")
        #expect(lines.count == 2)
        #expect(LogLine.decode(lines[0]) == LogLine(
            timestamp: "2024-05-01T12:34:56.007Z", level: "debug", message: "Child started", label: "cidp.engine",
            metadata: ["from": "provider", "node": "etl", "child.id": "loader", "trace.id": "t2",
                       "http.status": "explicit wins", "http.headers.a": "1", "http.headers.b": "2",
                       "tags": "[x, [k: v]]", "none": "[:]"]))
        let failure = LogLine.decode(lines[1])
        #expect(failure?.level == "error")
        #expect(failure?.metadata["error.message"] == "disk full")
        #expect(failure?.metadata["error.type"]?.hasSuffix("DiskFull") == true)
    }

    @Test func levelNamesParseInAnyCaseAndUnknownOnesThrow() throws {
        #expect(try LogBootstrap.level(named: "Warning") == .warning)
        #expect(try LogBootstrap.level(named: "trace") == .trace)
        #expect(throws: LoggingError(code: .unknownLevel, subject: "loud")) { try LogBootstrap.level(named: "loud") }
    }

    @Test func makeHandlersOpensTheFileAndPicksLevels() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let settings = LogSettings(directory: directory.path + "/logs", maxBytes: 1_000, keep: 2, consoleLevel: "warning")
        let destinations = try LogBootstrap.makeHandlers(settings: settings)
        #expect(destinations.consoleLevel == .warning)
        // The file has its own level, `info` by default: the per-batch debug notices stay out.
        #expect(destinations.fileLevel == .info)
        #expect(destinations.file.path == directory.path + "/logs/cidp.log")
        #expect(destinations.file.maxBytes == 1_000 && destinations.file.keep == 2)
        let verbose = try LogBootstrap.makeHandlers(settings: settings, consoleLevelOverride: .trace)
        #expect(verbose.consoleLevel == .trace && verbose.fileLevel == .info)
        var debugFile = settings
        debugFile.fileLevel = "debug"
        #expect(try LogBootstrap.makeHandlers(settings: debugFile).fileLevel == .debug)
        #expect(throws: LoggingError.self) {
            try LogBootstrap.makeHandlers(settings: LogSettings(directory: directory.path, consoleLevel: "verbose"))
        }
    }

    @Test func multiplexedHandlerSendsDebugToTheFileOnly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let destinations = try LogBootstrap.makeHandlers(
            settings: LogSettings(directory: directory.path, fileLevel: "debug"), consoleLevelOverride: .critical)
        let logger = Logger(label: "cidp") { destinations.makeHandler(label: $0) }
        #expect(logger.logLevel == .debug)
        logger.debug("to the file", metadata: ["k": "v"])
        logger.trace("nowhere")
        destinations.file.close()
        let lines = try directory.contents(of: "cidp.log").split(separator: "\n")
        #expect(lines.count == 1)
        #expect(LogLine.decode(lines[0])?.message == "to the file")
        #expect(LogLine.decode(lines[0])?.label == "cidp")
        #expect(LogLine.decode(lines[0])?.metadata == ["k": "v"])
    }

    @Test func theFileKeepsDebugOutByDefault() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let destinations = try LogBootstrap.makeHandlers(
            settings: LogSettings(directory: directory.path), consoleLevelOverride: .critical)
        let logger = Logger(label: "cidp") { destinations.makeHandler(label: $0) }
        logger.debug("Worker working", metadata: ["item": "batch 1"])
        logger.info("Worker ready")
        destinations.file.close()
        let lines = try directory.contents(of: "cidp.log").split(separator: "\n")
        #expect(lines.map { LogLine.decode($0)?.message } == ["Worker ready"])
    }
}
