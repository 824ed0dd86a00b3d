import Foundation
import Logging
import Posix
import Testing
import Wire
import Workers
import LogFormat

/// Collects what a `WorkerLogHandler` would write to stderr.
private final class LineBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }

    func append(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        storage.append(line)
    }
}

private struct Timeout: Error, CustomStringConvertible {
    var description: String { "no answer in 5 s" }
}

@Suite struct WorkerLogHandlerTests {
    private func makeLogger(level: Logger.Level = .info, configure: (inout WorkerLogHandler) -> Void = { _ in })
        -> (Logger, LineBox) {
        let box = LineBox()
        var handler = WorkerLogHandler(label: "cidp.loader", logLevel: level, sink: { box.append($0) })
        configure(&handler)
        return (Logger(label: "cidp.loader") { _ in handler }, box)
    }

    @Test func writesEachEntryAsOneDecodableLine() throws {
        let (logger, box) = makeLogger()
        logger.notice("Batch committed\nwith a newline", metadata: ["batch.id": "17", "rows": .stringConvertible(500)])
        #expect(box.lines.count == 1)
        let line = try #require(box.lines.first)
        #expect(!line.contains("\n"))
        let decoded = try #require(LogLine.decode(line))
        #expect(decoded.level == "notice")
        #expect(decoded.message == "Batch committed\nwith a newline")
        #expect(decoded.label == "cidp.loader")
        #expect(decoded.metadata == ["batch.id": "17", "rows": "500"])
        let timestamp = try #require(decoded.timestamp)
        #expect(timestamp.utf8.count == 24 && timestamp.hasSuffix("Z") && timestamp.dropFirst(10).first == "T")
    }

    @Test func filtersByLevel() {
        let (logger, box) = makeLogger(level: .warning)
        logger.info("hidden")
        logger.warning("shown")
        logger.critical("shown too")
        #expect(box.lines.compactMap { LogLine.decode($0)?.message } == ["shown", "shown too"])
    }

    @Test func mergesMetadataAsSwiftLogPrescribes() throws {
        var (logger, box) = makeLogger {
            $0[metadataKey: "layer"] = "handler"
            $0[metadataKey: "kept"] = "yes"
            $0.metadataProvider = .init { ["layer": "provider", "task": "t1"] }
        }
        logger[metadataKey: "logger"] = "set"
        logger.info("m", metadata: ["layer": "call", "nested": ["b": "2", "a": ["x": "1"]], "list": ["p", "q"]])
        logger.error("failed", error: Timeout())
        let first = try #require(LogLine.decode(box.lines[0]))
        #expect(first.metadata == ["layer": "call", "kept": "yes", "task": "t1", "logger": "set",
                                   "nested.a.x": "1", "nested.b": "2", "list": "[p, q]"])
        let second = try #require(LogLine.decode(box.lines[1]))
        #expect(second.metadata["error.message"] == "no answer in 5 s")
        #expect(second.metadata["error.type"]?.hasSuffix("Timeout") == true)
    }

    @Test func writesOneNewlineTerminatedLineToItsDescriptor() throws {
        // A pipe stands in for stderr: redirecting the test process's own fd 2 would race the test runner.
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let logger = Logger(label: "cidp.test") { [writeEnd = FileDescriptor(rawValue: fds[1])] in WorkerLogHandler(label: $0, fd: writeEnd) }
        logger.warning("to stderr", metadata: ["k": "v"])
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        close(fds[0])
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\n"))
        #expect(text.filter { $0 == "\n" }.count == 1)
        let decoded = try #require(LogLine.decode(text.dropLast()))
        #expect(decoded.message == "to stderr")
        #expect(decoded.level == "warning")
        #expect(decoded.metadata == ["k": "v"])
    }
}
