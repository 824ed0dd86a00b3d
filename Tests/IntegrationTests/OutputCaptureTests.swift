import Foundation
import Supervisor
import Testing
import Wire
#if canImport(Glibc)
import Glibc
import LogFormat
#endif

/// Worker stdout/stderr captured by the root as structured log entries, and a worker that
/// floods its output cannot starve the supervisor's loop.
@Suite(.timeLimit(.minutes(1)))
struct OutputCaptureTests {
    @Test func aFloodingWorkerIsLoggedWithItsNameAndPidAndTheLoopStaysResponsive() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [
            ("loud", #"args = ["--flood-output"]"#),
            ("quiet", ""),
        ]))
        let supervisor = try sandbox.up(["--log-level", "error"], waitUntilReady: false)
        let pids = try supervisor.waitForAllRunning()
        let loud = try #require(pids["loud"])

        // The root's JSON log holds the worker's lines as entries tagged with its name and pid.
        let logFile = sandbox.path + "/logs/cidp.log"
        var entry: LogLine?
        let logged = poll {
            let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            entry = text.split(separator: "\n").lazy.compactMap { LogLine.decode($0) }
                .first { $0.message.hasPrefix("flood line") }
            return entry != nil
        }
        #expect(logged)
        #expect(entry?.metadata["worker.name"] == "loud")
        #expect(entry?.metadata["worker.pid"] == "\(loud)")
        #expect(entry?.metadata["worker.stream"] == "stdout")

        // While the flood goes on, the loop still answers, reaps and restarts.
        let quiet = try #require(pids["quiet"])
        kill(quiet, SIGKILL)
        let replaced = try poll {
            let entry = try supervisor.status().find("quiet")
            return entry?.state == "running" && entry?.pid != nil && entry?.pid != quiet
        }
        #expect(replaced, "quiet was not replaced while loud flooded the root")
        #expect(try supervisor.status().find("loud")?.pid == loud)

        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0)
        #expect(!isAlive(loud))
    }
}
