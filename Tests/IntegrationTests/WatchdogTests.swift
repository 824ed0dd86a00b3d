import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Liveness on real processes: a hung worker (silent past its watchdog) and a worker that never
/// becomes ready are killed and restarted; a worker that reports trouble is left running.
@Suite(.timeLimit(.minutes(1)))
struct WatchdogTests {
    @Test func hungWorkerIsKilledByTheWatchdogAndReplaced() throws {
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 20, workers: [
            ("steady", #"args = ["--record", "$RECORD"]"#),
            // A hung worker ignores SIGTERM in effect (it only sleeps): a short shutdown keeps
            // the final `cidp stop` quick.
            ("hung", """
                watchdog_ms = 300
                shutdown = 100
                args = ["--record", "$RECORD", "--hang-after", "500"]
                """),
        ]))
        let supervisor = try sandbox.up()
        let firstPID = try #require(sandbox.startedPIDs(of: "hung").first)
        let replaced = supervisor.waitForStatus { tree in
            guard let hung = tree.find("hung"), let pid = hung.pid else { return false }
            return hung.state == "running" && pid != firstPID
        }
        #expect(replaced, "'hung' was not replaced: \(supervisor.statusTable)")
        #expect(!isAlive(firstPID), "the hung worker (pid \(firstPID)) is still alive")
        #expect(supervisor.logLines("Watchdog expired: worker hung; killing it",
                                    ["worker.name": "hung", "worker.pid": "\(firstPID)"]).count == 1,
                "no watchdog message for pid \(firstPID): \(supervisor.log)")
        let exit = supervisor.logLines("Worker exited", ["worker.name": "hung", "worker.pid": "\(firstPID)"])
        #expect(exit.count == 1 && exit[0].contains(#"exit.status="signal SIGKILL""#), "\(exit)")
        #expect((try supervisor.status().find("hung")?.restarts ?? 0) >= 1)
        // The sibling was not disturbed.
        #expect(sandbox.startedPIDs(of: "steady").count == 1)
        #expect(try supervisor.status().find("steady")?.pid == sandbox.startedPIDs(of: "steady").first)
        #expect(poll { zombieChildren(of: supervisor.pid).isEmpty }, "zombies left: \(zombieChildren(of: supervisor.pid))")
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
    }

    @Test func neverReadyWorkerIsKilledAtItsReadinessTimeoutUntilTheRootGivesUp() throws {
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 1, periodMs: 10_000, workers: [
            ("steady", #"args = ["--record", "$RECORD"]"#),
            ("never", """
                readiness_timeout_ms = 300
                args = ["--record", "$RECORD", "--never-ready"]
                """),
        ]))
        let supervisor = try sandbox.up(waitUntilReady: false)
        let code = supervisor.waitForExit()
        #expect(code == 1, "cidp up exited with \(code.map(String.init) ?? "nothing (still running)"): \(supervisor.log)")

        // Intensity 1: killed at the timeout, restarted once, killed again, and the root gives up.
        let never = sandbox.startedPIDs(of: "never")
        #expect(never.count == 2, "never started \(never.count) times: \(sandbox.records)")
        for pid in never {
            #expect(supervisor.logLines("Worker not ready in time; killing it", ["worker.name": "never", "worker.pid": "\(pid)"]).count == 1,
                    "no readiness-timeout message for pid \(pid)")
            #expect(!sandbox.recordedReady("never", pid: pid))
        }
        #expect(!supervisor.log.contains("Supervision tree ready"))
        let finalLine = supervisor.log.split(separator: "\n").last.map(String.init) ?? ""
        #expect(finalLine.hasPrefix("cidp: giving up: 'never' failed to start: not ready within "), "\(finalLine)")
        #expect(finalLine.hasSuffix("; 2 restarts of children of 'root' within 10 s exceed its intensity 1"), "\(finalLine)")
        for pid in never + sandbox.startedPIDs(of: "steady") {
            #expect(!isAlive(pid), "worker pid \(pid) outlived the supervisor")
        }
    }

    @Test func workerReportingTroubleIsDegradedNotRestarted() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [
            ("flaky", #"args = ["--record", "$RECORD", "--degraded-after", "100", "api down"]"#),
        ]))
        let supervisor = try sandbox.up()
        let pid = try #require(sandbox.startedPIDs(of: "flaky").first)
        var flaky: StatusTree?
        let degraded = supervisor.waitForStatus { tree in
            flaky = tree.find("flaky")
            return flaky?.state == "degraded"
        }
        #expect(degraded, "'flaky' never showed as degraded: \(supervisor.statusTable)")
        #expect(flaky?.reason == "api down")
        #expect(flaky?.pid == pid)
        #expect(flaky?.restarts == 0)
        #expect(supervisor.logLines("Worker degraded", ["worker.name": "flaky", "worker.pid": "\(pid)"])
            .contains { $0.contains(#"reason="api down""#) }, "\(supervisor.log)")
        // Still the same live process, never restarted, after the report.
        #expect(isAlive(pid))
        #expect(sandbox.startedPIDs(of: "flaky") == [pid])
        #expect(supervisor.logLines("Child restarting").isEmpty)
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
    }
}
