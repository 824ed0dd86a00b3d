import Foundation
import Supervisor
import Testing

@Suite struct LoggingRotatingFileTests {
    @Test func rotatesBeforeALineThatWouldPassMaxBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Each line is 7 bytes with its newline, so a 20-byte file holds two.
        let file = try RotatingFile(directory: directory.path, maxBytes: 20, keep: 2)
        for index in 0..<10 { file.write(line: "line-\(index)") }
        file.close()
        #expect(try directory.fileNames() == ["cidp.log", "cidp.log.1", "cidp.log.2"])
        #expect(try directory.contents(of: "cidp.log") == "line-8\nline-9\n")
        #expect(try directory.contents(of: "cidp.log.1") == "line-6\nline-7\n")
        #expect(try directory.contents(of: "cidp.log.2") == "line-4\nline-5\n")
    }

    @Test func fillsExactlyToMaxBytesBeforeRotating() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path, maxBytes: 14, keep: 1)
        for index in 0..<3 { file.write(line: "line-\(index)") }
        file.close()
        #expect(try directory.contents(of: "cidp.log.1") == "line-0\nline-1\n")
        #expect(try directory.contents(of: "cidp.log") == "line-2\n")
    }

    @Test func keepZeroKeepsOnlyTheLiveFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path, maxBytes: 20, keep: 0)
        for index in 0..<7 { file.write(line: "line-\(index)") }
        file.close()
        #expect(try directory.fileNames() == ["cidp.log"])
        #expect(try directory.contents(of: "cidp.log") == "line-6\n")
    }

    @Test func writesAnOversizedLineWholeAloneInItsFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let long = String(repeating: "x", count: 30)
        let file = try RotatingFile(directory: directory.path, maxBytes: 10, keep: 3)
        file.write(line: "short")
        file.write(line: long)
        file.write(line: "after")
        file.close()
        #expect(try directory.fileNames() == ["cidp.log", "cidp.log.1", "cidp.log.2"])
        #expect(try directory.contents(of: "cidp.log.2") == "short\n")
        #expect(try directory.contents(of: "cidp.log.1") == long + "\n")
        #expect(try directory.contents(of: "cidp.log") == "after\n")
    }

    @Test func doesNotRotateAnEmptyFileForAnOversizedLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path, maxBytes: 4, keep: 2)
        file.write(line: "0123456789")
        file.close()
        #expect(try directory.fileNames() == ["cidp.log"])
        #expect(try directory.contents(of: "cidp.log") == "0123456789\n")
    }

    @Test func appendsToAnExistingFileCountingItsSize() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "old-1\nold-2\n".write(toFile: directory.path + "/cidp.log", atomically: false, encoding: .utf8)
        let file = try RotatingFile(directory: directory.path, maxBytes: 15, keep: 1)
        file.write(line: "new")
        file.close()
        #expect(try directory.contents(of: "cidp.log.1") == "old-1\nold-2\n")
        #expect(try directory.contents(of: "cidp.log") == "new\n")
    }

    @Test func createsMissingDirectoriesAndTheFileWithMode0640() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path + "/a/b/logs", baseName: "root.log", maxBytes: 100, keep: 1)
        file.write(line: "hello")
        #expect(file.path == directory.path + "/a/b/logs/root.log")
        #expect(try directory.contents(of: "a/b/logs/root.log") == "hello\n")
        let mask = umask(0)
        umask(mask)
        var status = stat()
        #expect(stat(file.path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o640 & ~mask)
        file.close()
    }

    @Test func throwsWhenTheDirectoryIsAFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "".write(toFile: directory.path + "/plain", atomically: false, encoding: .utf8)
        #expect(throws: LoggingError.self) {
            try RotatingFile(directory: directory.path + "/plain", maxBytes: 100, keep: 1)
        }
        do {
            _ = try RotatingFile(directory: directory.path + "/plain/sub", maxBytes: 100, keep: 1)
            Issue.record("expected an error")
        } catch let error as LoggingError {
            #expect(error.code == .cannotCreateDirectory)
            #expect(error.description.hasPrefix("Cannot create log directory '\(directory.path)/plain/sub': "))
        }
    }

    @Test func dropsWritesAfterClose() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path, maxBytes: 100, keep: 1)
        file.write(line: "kept")
        file.close()
        file.write(line: "dropped")
        #expect(try directory.contents(of: "cidp.log") == "kept\n")
    }

    @Test func keepsLinesWholeUnderConcurrentWritesAndRotation() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try RotatingFile(directory: directory.path, maxBytes: 4_000, keep: 50)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for index in 0..<500 { file.write(line: "thread-\(thread)-line-\(index)-" + String(repeating: "z", count: 40)) }
        }
        file.close()
        var lines: [Substring] = []
        for name in try directory.fileNames() {
            let contents = try directory.contents(of: name)
            #expect(contents.utf8.count <= 4_000)
            lines += contents.split(separator: "\n")
        }
        #expect(lines.count == 2_000)
        #expect(lines.allSatisfy { $0.hasPrefix("thread-") && $0.hasSuffix(String(repeating: "z", count: 40)) })
        #expect(Set(lines).count == 2_000)
    }
}
