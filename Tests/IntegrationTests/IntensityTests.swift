import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Restart intensity on real processes: a crash loop makes a node give up; at the root that is
/// an orderly shutdown and exit 1, below it the failure escalates to the parent.
@Suite(.timeLimit(.minutes(1)))
struct IntensityTests {
    @Test func crashLoopMakesTheRootGiveUpAndExit1WithNoWorkerLeft() throws {
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 2, periodMs: 10_000, workers: [
            ("steady", #"args = ["--record", "$RECORD"]"#),
            ("crashy", #"args = ["--record", "$RECORD", "--exit-after", "50", "--exit-code", "3"]"#),
        ]))
        let supervisor = try sandbox.up(waitUntilReady: false)
        let code = supervisor.waitForExit()
        #expect(code == 1, "cidp up exited with \(code.map(String.init) ?? "nothing (still running)"): \(supervisor.log)")

        // Intensity 2: the third restart within the period is one too many, so 'crashy' ran 3 times.
        let crashy = sandbox.startedPIDs(of: "crashy")
        let steady = sandbox.startedPIDs(of: "steady")
        #expect(crashy.count == 3, "crashy started \(crashy.count) times: \(sandbox.records)")
        #expect(steady.count == 1, "steady started \(steady.count) times: \(sandbox.records)")
        let reason = "'crashy' exited (exit code 3); 3 restarts of children of 'root' within 10 s exceed its intensity 2"
        #expect(supervisor.log.contains("cidp: giving up: " + reason), "no give-up message naming 'crashy': \(supervisor.log)")
        #expect(supervisor.logLines("Restart intensity reached; node gives up", ["node.name": "root"]).count == 1)
        // An orderly shutdown: the healthy sibling was asked to stop, not left behind.
        #expect(supervisor.logLines("Stopping worker", ["worker.name": "steady", "signal": "SIGTERM"]).count == 1)
        // `cidp up` exits only after it reaped every worker: none may be alive now.
        for pid in crashy + steady { #expect(!isAlive(pid), "worker pid \(pid) outlived the supervisor") }
    }

    @Test func nodeThatGivesUpIsRestartedByItsParentAndSiblingsKeepTheirPids() throws {
        let policy = """
        [supervisor]
        name = "root"
        strategy = "one_for_one"
        intensity = 50
        period_ms = 10000
        children = ["steady", "inner"]

        [nodes.inner]
        strategy = "one_for_one"
        intensity = 1
        period_ms = 10000
        children = ["calm", "loopy"]

        [defaults.backoff]
        initial_ms = 10
        max_ms = 50
        jitter = 0.0

        [workers.steady]
        role = "test"
        args = ["--record", "$RECORD"]

        [workers.calm]
        role = "test"
        args = ["--record", "$RECORD"]

        [workers.loopy]
        role = "test"
        args = ["--record", "$RECORD", "--crash-if-exists", "$SANDBOX/trigger"]
        """
        let sandbox = try Sandbox(policy: policy)
        let trigger = sandbox.touch("trigger")
        // While the trigger exists, 'loopy' exits 3 as soon as it is ready: 'inner' (intensity 1)
        // gives up at its second restart and the root restarts it.
        let supervisor = try sandbox.up(waitUntilReady: false)
        let escalated = supervisor.waitForStatus { ($0.find("inner")?.restarts ?? 0) >= 1 }
        #expect(escalated, "the root never restarted 'inner': \(supervisor.statusTable)\n\(supervisor.log)")
        try FileManager.default.removeItem(atPath: trigger)

        let settled = supervisor.waitForStatus { tree in
            tree.find("inner")?.state == "running" && tree.workers.allSatisfy { $0.state == "running" }
        }
        #expect(settled, "the tree did not settle: \(supervisor.statusTable)")
        let tree = try supervisor.status()
        #expect((tree.find("inner")?.restarts ?? 0) >= 1)
        #expect(supervisor.logLines("Restart intensity reached; node gives up", ["node.name": "inner"]).count >= 1)
        #expect(supervisor.logLines("Restart intensity reached; node gives up", ["node.name": "root"]).isEmpty)
        #expect(supervisor.logLines("Child restarting", ["child.id": "inner"]).count >= 1)

        // The root's other child kept its pid; 'calm' went down with its node and came back.
        let steady = sandbox.startedPIDs(of: "steady")
        #expect(steady.count == 1, "steady started \(steady.count) times: \(sandbox.records)")
        #expect(tree.find("steady")?.pid == steady.first)
        #expect(tree.find("steady")?.restarts == 0)
        let calm = sandbox.startedPIDs(of: "calm")
        #expect(calm.count >= 2, "calm was not restarted with its node: \(sandbox.records)")
        #expect(tree.find("calm")?.pid != calm.first)
        if let first = calm.first { #expect(!isAlive(first), "the first 'calm' (pid \(first)) is still alive") }
        #expect(supervisor.isRunning)
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
    }
}
