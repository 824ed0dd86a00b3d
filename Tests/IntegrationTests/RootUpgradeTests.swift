@testable import cidp
import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `cidp upgrade --root` (issue 14, item 4): the root re-executes itself in place, into a second
/// build of the binary, in the middle of a real job's load: same pid, every worker keeps its pid,
/// the control socket answers throughout, and the load completes exactly.
@Suite(.timeLimit(.minutes(4)))
struct RootUpgradeTests {
    static func rowsLoaded(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path),
              let warehouse = try? Warehouse(readingOnly: path, busyTimeout: .milliseconds(100)) else { return 0 }
        return (try? warehouse.rowCount()) ?? 0
    }

    /// Asks the root for its status every few milliseconds on a thread of its own, counting the
    /// answers and keeping every failure, until stopped.
    final class StatusPoller: @unchecked Sendable {
        private let lock = NSLock()
        private var answered = 0
        private var failures: [String] = []
        private var isStopped = false
        private let done = DispatchSemaphore(value: 0)

        init(runDirectory: String) {
            let client = ControlClient(runDirectory: RunDirectory(path: runDirectory))
            Thread.detachNewThread { [self] in
                while !stopped {
                    do {
                        let reply = try client.send(.status)
                        record(reply.ok && reply.tree != nil ? nil : "reply: \(reply)")
                    } catch {
                        record("\(error)")
                    }
                    usleep(5_000)
                }
                done.signal()
            }
        }

        private var stopped: Bool { lock.lock(); defer { lock.unlock() }; return isStopped }
        private func record(_ failure: String?) {
            lock.lock()
            if let failure { failures.append(failure) } else { answered += 1 }
            lock.unlock()
        }

        func stop() -> (answered: Int, failures: [String]) {
            lock.lock(); isStopped = true; lock.unlock()
            done.wait()
            lock.lock(); defer { lock.unlock() }
            return (answered, failures)
        }
    }

    @Test func theRootReexecutesInPlaceMidLoadAndNoWorkerRestarts() throws {
        let sandbox = try Sandbox(policy: try MetricsTests.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let newBuild = try UpgradeTests.secondBuild(in: sandbox.path + "/new")
        let records = 200_000
        // A job: it ends, with its exit code and summary, once the load and the training are done.
        let supervisor = try sandbox.up(["--records", "\(records)", "--db", db], waitUntilReady: false)
        let port = try #require(MetricsTests.metricsPort(supervisor), "\(supervisor.log.suffix(2000))")
        let before = try supervisor.waitForAllRunning()
        let oldRootBuild = try #require(try supervisor.status().build)
        #expect(poll(timeout: .seconds(60)) { Self.rowsLoaded(db) >= 10_000 })

        let poller = StatusPoller(runDirectory: sandbox.runDirectory)
        let upgrade = try sandbox.cidp(["upgrade", "--root", "--exe", newBuild, "--run-dir", sandbox.runDirectory],
                                       timeout: .seconds(60))
        let loadedAtUpgrade = Self.rowsLoaded(db)
        #expect(upgrade.code == 0, "\(upgrade.stdout) \(upgrade.stderr) \(supervisor.log.suffix(3000))")
        #expect(upgrade.stdout.contains("pid \(supervisor.pid) kept"), "\(upgrade.stdout)")
        #expect(loadedAtUpgrade < Int64(records), "the upgrade came after the load: \(loadedAtUpgrade) rows")

        // The same process, now the new build; every worker the same process as before.
        let tree = try supervisor.status()
        #expect(tree.build != nil && tree.build != oldRootBuild, "root build \(tree.build ?? "-") was \(oldRootBuild)")
        for (name, pid) in before {
            #expect(tree.find(name)?.pid == pid, "\(name): \(tree.renderTable())")
        }
        // The metrics listener was handed over too.
        #expect(try httpGet(port: port, path: "/metrics").status == 200)
        let polled = poller.stop()
        #expect(polled.failures.isEmpty, "status failed during the re-exec: \(polled.failures.prefix(3))")
        #expect(polled.answered > 0)

        #expect(supervisor.waitForExit(timeout: .seconds(120)) == 0, "\(supervisor.log.suffix(3000))")
        #expect(supervisor.log.contains("this run loaded \(records) rows"), "\(supervisor.log.suffix(1500))")
        #expect(!supervisor.log.contains("Worker exited unexpectedly"), "\(supervisor.log.suffix(3000))")
        #expect(supervisor.log.contains("Supervisor re-executed"))
        try EtlTests.checkWarehouse(db, count: records)
    }

    @Test func aBinaryThatCannotTakeOverOrAChangedPolicyIsRefusedAndNothingChanges() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "3000", "--db", db], waitUntilReady: false)
        let before = try supervisor.waitForAllRunning()
        let control = ["--run-dir", sandbox.runDirectory]

        // Not a cidp: it does not answer the handover format query.
        let foreign = try sandbox.cidp(["upgrade", "--root", "--exe", "/bin/true"] + control)
        #expect(foreign.code == 2, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("does not take over a running root"), "\(foreign.stderr)")
        let missing = try sandbox.cidp(["upgrade", "--root", "--exe", sandbox.path + "/nothing-here"] + control)
        #expect(missing.code == 2, "\(missing.stderr)")
        // Naming workers with --root is a usage error.
        #expect(try sandbox.cidp(["upgrade", "--root", "loader"] + control).code == 2)

        // The policy file changed under the running tree: reload first.
        let policy = try String(contentsOfFile: sandbox.policyPath, encoding: .utf8)
        let edited = policy.replacingOccurrences(of: "input = \"transformer\"\nshutdown = 10000",
                                                 with: "input = \"transformer\"\nshutdown = 9000")
        #expect(edited != policy, "policies/default.toml's loader changed")
        try edited.write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)
        let changed = try sandbox.cidp(["upgrade", "--root"] + control)
        #expect(changed.code == 2 && changed.stderr.contains("policy file changed"), "\(changed.stderr)")
        try policy.write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)

        #expect(try supervisor.pids() == before)
        #expect(!supervisor.log.contains("Root re-executing"))
        // And with the same binary, it goes through.
        let same = try sandbox.cidp(["upgrade", "--root"] + control)
        #expect(same.code == 0, "\(same.stderr)")
        #expect(try supervisor.pids() == before)
        #expect(try sandbox.cidp(["stop"] + control).code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(2000))")
    }
}
