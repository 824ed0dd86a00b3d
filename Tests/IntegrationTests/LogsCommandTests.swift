import Foundation
import Supervisor
import Testing
import Wire
#if canImport(Glibc)
import Glibc
import LogFormat
#endif

/// `cidp logs`: the root's JSON log read back, filtered to workers, and followed across rotations.
@Suite(.timeLimit(.minutes(3)))
struct LogsCommandTests {
    /// Every entry of the sandbox's log, oldest first (rotated files, then the live one).
    static func entries(in sandbox: Sandbox) -> [LogLine] {
        let directory = sandbox.path + "/logs"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let rotated = names.compactMap { $0.hasPrefix("cidp.log.") ? Int($0.dropFirst(9)) : nil }.sorted(by: >)
        let paths = rotated.map { directory + "/cidp.log.\($0)" } + [directory + "/cidp.log"]
        return paths.flatMap { path in
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { LogLine.decode($0) }
        }
    }

    static func isAbout(_ entry: LogLine, _ worker: String) -> Bool {
        ["worker.name", "worker", "child.id"].contains { entry.metadata[$0] == worker }
    }

    @Test func theLoadersLastFiveLinesOnly() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--records", "5000", "--db", db], waitUntilReady: false)
        #expect(supervisor.waitForExit(timeout: .seconds(120)) == 0, "\(supervisor.log.suffix(2000))")

        let all = Self.entries(in: sandbox)
        // The file's own level: info, so the per-batch debug `working` notices are not there.
        #expect(!all.isEmpty && !all.contains { $0.message == "Worker working" || $0.level == "debug" })
        let expected = Array(all.filter { Self.isAbout($0, "loader") }.suffix(5))
        #expect(expected.count == 5)
        let result = try sandbox.cidp(["logs", "loader", "-n", "5", "--policy", sandbox.policyPath])
        #expect(result.code == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(result.stdout)")
        for (line, entry) in zip(lines, expected) {
            #expect(line.contains(": " + entry.message), "\(line) — expected \(entry.message)")
            #expect(line.contains(" loader"), "\(line)")
            if let pid = entry.metadata["worker.pid"] { #expect(line.contains("loader[\(pid)]: "), "\(line)") }
        }

        // --json: the entries themselves; --level: nothing below it.
        let json = try sandbox.cidp(["logs", "loader", "-n", "5", "--json", "--policy", sandbox.policyPath])
        #expect(json.stdout.split(separator: "\n").compactMap { LogLine.decode($0) } == expected)
        let notices = try sandbox.cidp(["logs", "--level", "notice", "--policy", sandbox.policyPath])
        #expect(notices.code == 0 && !notices.stdout.isEmpty)
        #expect(!notices.stdout.contains(" INFO "), "\(notices.stdout)")
        // --since: an hour ago takes in the whole job; a time to come, nothing.
        let everything = try sandbox.cidp(["logs", "--policy", sandbox.policyPath])
        let lastHour = try sandbox.cidp(["logs", "--since", "1h", "--policy", sandbox.policyPath])
        #expect(lastHour.code == 0 && lastHour.stdout == everything.stdout && everything.stdout.split(separator: "\n").count == all.count)
        let future = try sandbox.cidp(["logs", "--since", "2999-01-01", "--policy", sandbox.policyPath])
        #expect(future.code == 0 && future.stdout.isEmpty, "\(future.stdout)")
        // Bad input: one line, exit 2.
        let unknown = try sandbox.cidp(["logs", "no-such-worker", "--policy", sandbox.policyPath])
        #expect(unknown.code == 2 && unknown.stderr.contains("unknown worker 'no-such-worker'"), "\(unknown.stderr)")
        let badSince = try sandbox.cidp(["logs", "--since", "yesterday", "--policy", sandbox.policyPath])
        #expect(badSince.code == 2 && badSince.stderr.contains("--since"), "\(badSince.stderr)")
    }

    @Test func followPicksUpLinesWrittenAfterARotation() throws {
        // A tiny file, so that a few restarts rotate it.
        let sandbox = try Sandbox(policy: """
            [supervisor]
            children = ["w", "other"]
            [logging]
            dir = "logs"
            max_bytes = 4096
            keep = 3
            [workers.w]
            role = "test"
            [workers.other]
            role = "test"
            """)
        let supervisor = try sandbox.up()
        let follower = try RunningSupervisor(sandbox: sandbox, arguments: ["logs", "w", "-f", "--policy", sandbox.policyPath])
        defer { kill(follower.pid, SIGTERM) }
        #expect(poll { follower.log.contains("Worker ready") }, "\(follower.log)")

        let live = sandbox.path + "/logs/cidp.log"
        var first = stat()
        #expect(stat(live, &first) == 0)
        let control = ["--run-dir", sandbox.runDirectory]
        var rotated = false
        for _ in 0..<60 where !rotated {
            let restart = try sandbox.cidp(["restart", "w"] + control)
            #expect(restart.code == 0, "\(restart.stderr)")
            var now = stat()
            rotated = stat(live, &now) == 0 && now.st_ino != first.st_ino
        }
        #expect(rotated, "the log never rotated")
        // A line written after the rotation, into the new live file.
        let restart = try sandbox.cidp(["restart", "w"] + control)
        #expect(restart.code == 0, "\(restart.stderr)")
        let pid = try #require(try supervisor.pids()["w"])
        #expect(poll { follower.log.contains("w[\(pid)]: Worker ready") }, "\(follower.log.suffix(2000))")
        #expect(!follower.log.contains("other["), "another worker's line: \(follower.log)")
        // Each entry once: the rotation neither lost nor repeated the lines around it.
        let readyLines = follower.log.split(separator: "\n").filter { $0.contains(": Worker ready") }
        #expect(Set(readyLines).count == readyLines.count, "\(readyLines)")
        #expect(follower.isRunning)
        #expect(try supervisor.stop() == 0)
    }
}
