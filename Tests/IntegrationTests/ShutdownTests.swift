@testable import cidp
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// How the tree ends: killed, asked to stop by a signal, with stubborn children; and what it
/// leaves behind (orphans, zombies, descriptors) on real processes.
@Suite(.timeLimit(.minutes(1)))
struct ShutdownTests {
    static let recording = #"args = ["--record", "$RECORD"]"#

    /// root: [a, grp: [b, c], d]: start order a b c d, so stop order d c b a.
    static let nestedPolicy = """
    [supervisor]
    name = "root"
    children = ["a", "grp", "d"]
    [nodes.grp]
    strategy = "one_for_all"
    children = ["b", "c"]
    [defaults]
    shutdown = 3000
    [defaults.backoff]
    initial_ms = 10
    jitter = 0.0
    [workers.a]
    role = "test"
    \(recording)
    [workers.b]
    role = "test"
    \(recording)
    [workers.c]
    role = "test"
    \(recording)
    [workers.d]
    role = "test"
    \(recording)
    """

    @Test func sigkillOfTheRootTakesEveryWorkerWithIt() throws {
        let sandbox = try Sandbox(policy: Self.nestedPolicy)
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()
        #expect(Set(pids.keys) == ["a", "b", "c", "d"])
        #expect(pids.values.allSatisfy(isAlive))

        kill(supervisor.pid, SIGKILL)
        #expect(supervisor.waitForExit() != nil)
        let gone = poll(timeout: .seconds(10)) { pids.values.allSatisfy { !isAlive($0) } }
        #expect(gone, "workers outlived their supervisor: \(pids.filter { isAlive($0.value) })")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func signalStopsChildrenInReverseStartOrderAndExitsZero(signal: Int32) throws {
        let sandbox = try Sandbox(policy: Self.nestedPolicy)
        let supervisor = try sandbox.up()
        _ = try supervisor.waitForAllRunning()
        #expect(supervisor.waitForReadyRecords(["a", "b", "c", "d"]))
        let ready = sandbox.recordedNames("ready")
        #expect(ready == ["a", "b", "c", "d"])

        kill(supervisor.pid, signal)
        #expect(supervisor.waitForExit() == 0, "log: \(supervisor.log)")
        #expect(sandbox.recordedNames("term") == Array(ready.reversed()), "records: \(sandbox.records)")
        // Each term line comes from the very process that said ready.
        let readyPIDs = Dictionary(uniqueKeysWithValues: sandbox.recordedEvents.filter { $0.event == "ready" }.map { ($0.name, $0.pid) })
        for event in sandbox.recordedEvents where event.event == "term" {
            #expect(readyPIDs[event.name] == event.pid, "\(event)")
        }
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath), "control socket left behind")
    }

    @Test func childIgnoringSigtermIsKilledAfterItsShutdownTimeout() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [
            ("calm", Self.recording),
            ("stubborn", "shutdown = 300\n" + #"args = ["--ignore-sigterm", "--record", "$RECORD"]"#),
        ]))
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()
        let stubborn = try #require(pids["stubborn"])
        #expect(supervisor.waitForReadyRecords(["calm", "stubborn"]))

        kill(supervisor.pid, SIGTERM)
        #expect(supervisor.waitForExit() == 0, "log: \(supervisor.log)")
        #expect(!isAlive(stubborn))
        let log = supervisor.log
        #expect(log.contains("Worker ignored SIGTERM past its shutdown timeout; killing it"), "log: \(log)")
        #expect(log.contains("worker.name=stubborn"))
        #expect(log.contains(#"exit.status="signal SIGKILL" worker.name=stubborn"#), "log: \(log)")
        // It never got to record a term line; its sibling, stopped after it, did.
        #expect(sandbox.recordedNames("term") == ["calm"], "records: \(sandbox.records)")
    }

    @Test func brutalKillKillsAtOnce() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [
            ("calm", Self.recording),
            ("brute", "shutdown = \"brutal_kill\"\n" + Self.recording),
        ]))
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()
        #expect(supervisor.waitForReadyRecords(["calm", "brute"]))

        kill(supervisor.pid, SIGTERM)
        #expect(supervisor.waitForExit() == 0, "log: \(supervisor.log)")
        #expect(!isAlive(try #require(pids["brute"])))
        let log = supervisor.log
        #expect(log.contains("Stopping worker signal=SIGKILL worker.name=brute"), "log: \(log)")
        #expect(!log.contains("Stopping worker signal=SIGTERM worker.name=brute"), "log: \(log)")
        #expect(!log.contains("past its shutdown timeout"), "log: \(log)")
        #expect(sandbox.recordedNames("term") == ["calm"], "records: \(sandbox.records)")
    }

    @Test func manyRestartsLeaveNoZombiesAndNoLeakedDescriptors() throws {
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 1000, periodMs: 60_000, workers: [("steady", ""), ("victim", "")]))
        let supervisor = try sandbox.up()
        var pids = try supervisor.waitForAllRunning()
        let steady = pids["steady"]
        // A status request's connection may still be open on the server side for a moment.
        let baseline = openDescriptorCount(supervisor.pid)
        #expect(baseline > 0)

        for round in 1...20 {
            let victim = try #require(pids["victim"])
            kill(victim, SIGKILL)
            let replaced = try poll {
                let tree = try supervisor.status()
                guard let entry = tree.find("victim"), entry.state == "running", let pid = entry.pid else { return false }
                pids["victim"] = pid
                return pid != victim
            }
            let table = (try? supervisor.status().renderTable()) ?? "no status"
            try #require(replaced, "round \(round): victim not replaced: \(table)")
        }
        #expect(try supervisor.status().find("victim")?.restarts == 20)
        #expect(try supervisor.pids()["steady"] == steady)

        let clean = poll(timeout: .seconds(10)) {
            zombieChildren(of: supervisor.pid).isEmpty && openDescriptorCount(supervisor.pid) <= baseline
        }
        #expect(clean, """
            zombies: \(zombieChildren(of: supervisor.pid)); descriptors: \(openDescriptorCount(supervisor.pid)) \
            (baseline \(baseline)): \(descriptorTargets(supervisor.pid).sorted { $0.key < $1.key })
            """)
        #expect(supervisor.isRunning)
    }

    /// Workers get exactly stdin (/dev/null), stdout and stderr (pipes to the supervisor) and the
    /// control channel (fd 3, a socket); nothing of the supervisor's own, nor what the supervisor
    /// itself inherited without close-on-exec.
    @Test func workersInheritOnlyTheirFourDescriptors() throws {
        let sandbox = try Sandbox(policy: """
            [supervisor]
            children = ["solo", "grp"]
            [logging]
            dir = "logs"
            [nodes.grp]
            children = ["x"]
            [workers.solo]
            role = "test"
            [workers.x]
            role = "test"
            """)
        let strayPath = sandbox.path + "/stray.txt"
        let supervisor = try RunningSupervisor.withStrayDescriptor(sandbox: sandbox, strayFD: 9, strayPath: strayPath)
        let client = ControlClient(runDirectory: RunDirectory(path: sandbox.runDirectory))
        var workers: [StatusTree] = []
        let running = poll {
            workers = (try? client.send(.status).tree?.workers) ?? []
            return workers.count == 2 && workers.allSatisfy { $0.state == "running" && $0.pid != nil }
        }
        try #require(running, "log: \(supervisor.log)")
        // The setup really handed the supervisor a stray descriptor.
        #expect(descriptorTargets(supervisor.pid)[9] == strayPath, "\(descriptorTargets(supervisor.pid))")

        for worker in workers {
            let pid = try #require(worker.pid)
            let targets = descriptorTargets(pid)
            #expect(Set(targets.keys) == [0, 1, 2, 3], "\(worker.name): \(targets.sorted { $0.key < $1.key })")
            #expect(targets[0] == "/dev/null")
            #expect(targets[1]?.hasPrefix("pipe:") == true)
            #expect(targets[2]?.hasPrefix("pipe:") == true)
            #expect(targets[3]?.hasPrefix("socket:") == true)
            for (fd, target) in targets {
                #expect(!target.hasPrefix(sandbox.path), "\(worker.name) fd \(fd) points into the sandbox: \(target)")
            }
        }
    }
}
