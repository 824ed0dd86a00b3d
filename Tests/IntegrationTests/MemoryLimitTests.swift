import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The per-worker memory limit on real processes: a worker that keeps allocating dies over its
/// limit and is restarted by its policy.
@Suite(.timeLimit(.minutes(1)))
struct MemoryLimitTests {
    @Test func workerOverItsMemoryLimitDiesAndIsRestarted() throws {
        // `memory_limit_mb` is RLIMIT_AS: it counts the whole address space, and a `cidp worker`
        // maps ~100 MiB (Swift runtime, Foundation, ICU data) before doing anything. A bare
        // 64 MiB limit would kill it in the dynamic loader, before it ever allocated; so the
        // limit is the worker's own footprint plus 64 MiB of headroom, 8 MiB a tick.
        let limit = try supervisedTestWorkerAddressSpaceMiB() + 64
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 20, workers: [
            ("hog", """
                memory_limit_mb = \(limit)
                args = ["--record", "$RECORD", "--allocate-mb-per-tick", "8"]
                \(quietCrashes)
                """),
        ]))
        let supervisor = try sandbox.up()
        let firstPID = try #require(sandbox.startedPIDs(of: "hog").first)
        // The worker records `ready` just after telling the supervisor, so the line may lag a little.
        #expect(poll { sandbox.recordedReady("hog", pid: firstPID) }, "the first 'hog' never became ready: \(supervisor.log)")

        // Safety net and check in one: a hog seen past its limit means the limit is not enforced;
        // it is killed at once rather than left to eat the machine's memory.
        var overran: [Int32: Int] = [:]
        let restarted = supervisor.waitForStatus { tree in
            for pid in sandbox.startedPIDs(of: "hog") {
                if let size = virtualSizeMiB(of: pid), size > limit { overran[pid] = size; kill(pid, SIGKILL) }
            }
            guard let hog = tree.find("hog"), let pid = hog.pid else { return false }
            return hog.state == "running" && pid != firstPID && hog.restarts >= 1
        }
        #expect(overran.isEmpty, "workers grew past the \(limit) MiB limit: \(overran)")
        #expect(restarted, "'hog' was not restarted: \(supervisor.statusTable)")
        #expect(!isAlive(firstPID), "the first 'hog' (pid \(firstPID)) is still alive")
        // It died of its own allocations failing at the limit, not of anything else.
        let exit = supervisor.logLines("Worker exited unexpectedly", ["worker.name": "hog", "worker.pid": "\(firstPID)"])
        #expect(exit.count == 1, "no unexpected exit for pid \(firstPID): \(supervisor.log)")
        #expect(exit.first?.contains(#"exit.status="exit code 4""#) == true, "\(exit)")
        var failure: [String] = []
        poll {
            failure = supervisor.logLines("test worker: allocation of 8 MiB failed after",
                                          ["worker.name": "hog", "worker.pid": "\(firstPID)", "worker.stream": "stderr"])
            return !failure.isEmpty
        }
        #expect(failure.count == 1, "no allocation failure reported by pid \(firstPID): \(supervisor.log)")
        // ... after it had allocated under the limit: it was working, not failing to load.
        let blocks = failure.first.flatMap { line in
            line.range(of: "failed after ").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
        }
        #expect((blocks ?? 0) >= 1, "the first 'hog' allocated nothing before failing: \(failure)")
        #expect(supervisor.logLines("Child restarting", ["child.id": "hog"]).count >= 1)
        #expect(sandbox.startedPIDs(of: "hog").count >= 2)

        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
        for pid in sandbox.startedPIDs(of: "hog") { #expect(!isAlive(pid), "worker pid \(pid) outlived the supervisor") }
    }
}
