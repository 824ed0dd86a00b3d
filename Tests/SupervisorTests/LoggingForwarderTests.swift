import Logging
import Supervisor
import Testing
import Wire
import LogFormat

@Suite struct LoggingForwarderTests {
    private func consume(_ forwarder: inout WorkerOutputForwarder, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { forwarder.consume($0) }
    }

    @Test func returnsTheLinesItLoggedAsText() {
        let (logger, _) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "w", pid: 1, stream: .stdout)
        let json = LogLine(level: "error", message: "bad batch", metadata: ["item": "batch 17", "a": "1"]).encoded()
        let lines = Array("plain\n\n\(json)\ntail".utf8).withUnsafeBytes { forwarder.consume($0) }
        #expect(lines == ["plain", "bad batch a=1 item=batch 17"])
        #expect(forwarder.finish() == "tail")
        #expect(forwarder.finish() == nil)
    }

    @Test func relogsAWorkerJSONLineAtItsLevelWithWorkerMetadata() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "loader", pid: 4242, stream: .stderr)
        let line = LogLine(timestamp: "2024-05-01T12:34:56.789Z", level: "error", message: "Commit failed",
                           label: "cidp.loader", metadata: ["batch.id": "17", "sqlite.code": "5"])
        consume(&forwarder, line.encoded() + "\n")
        #expect(recorder.entries == [
            .init(level: .error, message: "Commit failed", metadata: [
                "batch.id": "17", "sqlite.code": "5", "worker.label": "cidp.loader",
                "worker.name": "loader", "worker.pid": "4242", "worker.stream": "stderr",
            ]),
        ])
    }

    @Test func logsRawStdoutAtInfoAndRawStderrAtWarning() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var out = WorkerOutputForwarder(logger: logger, worker: "extractor", pid: 7, stream: .stdout)
        var err = WorkerOutputForwarder(logger: logger, worker: "extractor", pid: 7, stream: .stderr)
        consume(&out, "printed by a library\r\n")
        consume(&err, "Fatal error: Index out of range\n")
        let tags = ["worker.name": "extractor", "worker.pid": "7"]
        #expect(recorder.entries == [
            .init(level: .info, message: "printed by a library", metadata: tags.merging(["worker.stream": "stdout"]) { $1 }),
            .init(level: .warning, message: "Fatal error: Index out of range",
                  metadata: tags.merging(["worker.stream": "stderr"]) { $1 }),
        ])
    }

    @Test func treatsJSONThatIsNotALogLineAsRawText() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "w", pid: 1, stream: .stderr)
        consume(&forwarder, #"{"level":"loud","message":"m"}"# + "\n" + #"{"level":"info","message":"m"} x"# + "\n")
        #expect(recorder.entries.map(\.level) == [.warning, .warning])
        #expect(recorder.entries.map(\.message) == [#"{"level":"loud","message":"m"}"#, #"{"level":"info","message":"m"} x"#])
    }

    @Test func workerKeysWinOverTheWorkersOwnMetadata() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "real", pid: 9, stream: .stderr)
        consume(&forwarder, LogLine(level: "notice", message: "m", metadata: ["worker.name": "fake", "worker.pid": "1"]).encoded() + "\n")
        #expect(recorder.entries.first?.metadata == ["worker.name": "real", "worker.pid": "9", "worker.stream": "stderr"])
    }

    @Test func joinsLinesAcrossChunksAndLogsTheTailAtFinish() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "w", pid: 1, stream: .stderr)
        let encoded = LogLine(level: "debug", message: "split 🚂", metadata: ["k": "v"]).encoded()
        let bytes = Array((encoded + "\nno newline at EOF").utf8)
        for byte in bytes { _ = [byte].withUnsafeBytes { forwarder.consume($0) } }
        #expect(recorder.entries.map(\.message) == ["split 🚂"])
        forwarder.finish()
        #expect(recorder.entries.map(\.message) == ["split 🚂", "no newline at EOF"])
        #expect(recorder.entries.map(\.level) == [.debug, .warning])
    }

    @Test func dropsEmptyLines() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "w", pid: 1, stream: .stdout)
        consume(&forwarder, "\n\r\na\n\n")
        forwarder.finish()
        #expect(recorder.entries.map(\.message) == ["a"])
    }

    @Test func respectsTheLoggersLevel() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger(level: .info)
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "w", pid: 1, stream: .stderr)
        consume(&forwarder, LogLine(level: "debug", message: "hidden").encoded() + "\n"
            + LogLine(level: "critical", message: "shown").encoded() + "\n")
        #expect(recorder.entries.map(\.message) == ["shown"])
    }

    @Test func logsOverlongLinesInPieces() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        var forwarder = WorkerOutputForwarder(logger: logger, worker: "w", pid: 1, stream: .stdout, maxLineBytes: 10)
        consume(&forwarder, String(repeating: "x", count: 25) + "\n")
        #expect(recorder.entries.map(\.message) == ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"])
    }
}
