@testable import cidp
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Halts (an integrity gate stops its chain), `cidp resume`, and poison pills, on real processes.
@Suite(.timeLimit(.minutes(1)))
struct HaltTests {
    static let reason = "checksum mismatch in batch 17"

    /// `sim` beside a rest_for_one node `etl` whose transformer halts 300 ms after it starts.
    static let chain = """
        [supervisor]
        name = "root"
        children = ["sim", "etl"]

        [logging]
        dir = "logs"

        [defaults]
        shutdown = 3000
        readiness_timeout_ms = 10000

        [nodes.etl]
        strategy = "rest_for_one"
        children = ["extractor", "transformer"]

        [workers.sim]
        role = "test"
        args = ["--record", "$RECORD"]

        [workers.extractor]
        role = "test"
        args = ["--record", "$RECORD", "--record-resumed"]

        [workers.transformer]
        role = "test"
        args = ["--record", "$RECORD", "--record-resumed", "--halt-after", "300", "\(reason)"]
        """

    static func isHalted(_ tree: StatusTree, _ names: [String]) -> Bool {
        names.allSatisfy { name in
            guard let entry = tree.find(name) else { return false }
            return entry.state == "halted" && entry.pid == nil && entry.reason == reason
        }
    }

    @Test func aHaltHoldsItsNodeDownUntilResumedWhileASiblingBranchRuns() throws {
        let sandbox = try Sandbox(policy: Self.chain)
        let supervisor = try sandbox.up(["--follow"])
        let halted = supervisor.waitForStatus { Self.isHalted($0, ["etl", "extractor", "transformer"]) }
        #expect(halted, "the chain did not halt: \(supervisor.statusTable)\n\(supervisor.log)")
        let simPID = try #require(sandbox.startedPIDs(of: "sim").first)
        let extractorPID = try #require(sandbox.startedPIDs(of: "extractor").first)
        let transformerPID = try #require(sandbox.startedPIDs(of: "transformer").first)
        #expect(!isAlive(extractorPID) && !isAlive(transformerPID))
        #expect(zombieChildren(of: supervisor.pid).isEmpty)

        let text = try sandbox.cidp(["status", "--run-dir", sandbox.runDirectory])
        #expect(text.code == 0, "\(text.stderr)")
        // The node's reason once, on its line; its workers point to it.
        for name in ["etl", "extractor", "transformer"] {
            let line = text.stdout.split(separator: "\n").first { $0.split(separator: " ").first.map(String.init) == name }
            #expect(line?.contains(" halted ") == true, "\(text.stdout)")
            #expect(line?.hasSuffix(name == "etl" ? "halted by transformer: \(Self.reason)" : "halted with etl") == true,
                    "\(text.stdout)")
        }
        #expect(text.stdout.split(separator: "\n").filter { $0.contains(Self.reason) }.count == 1, "\(text.stdout)")
        let json = try sandbox.cidp(["status", "--json", "--run-dir", sandbox.runDirectory])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let etl = try #require((root["children"] as? [[String: Any]])?.first { $0["name"] as? String == "etl" })
        #expect(etl["state"] as? String == "halted")
        #expect(etl["reason"] as? String == Self.reason)
        #expect(etl["halted_by"] as? String == "transformer")

        // The other branch keeps its process; nothing in the chain came back on its own.
        #expect(try supervisor.status().find("sim")?.pid == simPID)
        #expect(try supervisor.status().find("sim")?.state == "running")
        #expect(sandbox.startedPIDs(of: "extractor").count == 1)
        #expect(supervisor.log.contains("event=halted"), "\(supervisor.log)")
        #expect(supervisor.log.contains("node=etl"))

        let restart = try sandbox.cidp(["restart", "extractor", "--run-dir", sandbox.runDirectory])
        #expect(restart.code == 2)
        #expect(restart.stderr.contains("node etl is halted; use 'cidp resume etl'"), "\(restart.stderr)")

        let resume = try sandbox.cidp(["resume", "--run-dir", sandbox.runDirectory])
        #expect(resume.code == 0, "\(resume.stderr)")
        #expect(resume.stdout.contains("resumed etl"), "\(resume.stdout)")
        // No polling: resume returns once the node runs again.
        let tree = try supervisor.status()
        #expect(tree.find("etl")?.state == "running", "\(tree.renderTable())")
        let newExtractor = try #require(tree.find("extractor")?.pid)
        let newTransformer = try #require(tree.find("transformer")?.pid)
        #expect(tree.find("extractor")?.state == "running" && tree.find("transformer")?.state == "running")
        #expect(newExtractor != extractorPID && newTransformer != transformerPID)
        #expect(sandbox.records.contains("resumed extractor \(newExtractor)"), "\(sandbox.records)")
        #expect(sandbox.records.contains("resumed transformer \(newTransformer)"), "\(sandbox.records)")
        #expect(sandbox.startedPIDs(of: "extractor") == [extractorPID, newExtractor])
        #expect(tree.find("sim")?.pid == simPID)
        #expect(supervisor.log.contains("event=resumed"), "\(supervisor.log)")

        let again = try sandbox.cidp(["resume", "etl", "--run-dir", sandbox.runDirectory])
        // A refused operator request exits 2, whichever request (one rule: README "Exit codes").
        #expect(again.code == 2)
        #expect(again.stderr.contains("'etl' is not halted"), "\(again.stderr)")
        let nothing = try sandbox.cidp(["resume", "--run-dir", sandbox.runDirectory])
        #expect(nothing.code == 2)
        #expect(nothing.stderr.contains("nothing is halted"), "\(nothing.stderr)")
        #expect(try supervisor.stop() == 0, "\(supervisor.log)")
    }

    @Test func aHaltEndsAJobWithExitOneNamingNodeWorkerAndReason() throws {
        let sandbox = try Sandbox(policy: Self.chain)
        // Without --follow, `cidp up` is a job: a halt stops the whole tree.
        let result = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory],
                                      timeout: .seconds(40))
        #expect(result.code == 1, "\(result.stderr)")
        let last = result.stderr.split(separator: "\n").last.map(String.init)
        #expect(last == "cidp: etl halted by transformer: \(Self.reason)", "\(result.stderr)")
        for name in ["sim", "extractor", "transformer"] {
            for pid in sandbox.startedPIDs(of: name) { #expect(!isAlive(pid), "\(name) \(pid) outlived the supervisor") }
        }
        // In order: the halted chain first (it stops at once), then the rest in reverse start order.
        #expect(sandbox.recordedNames("term") == ["transformer", "extractor", "sim"], "\(sandbox.records)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))
    }

    @Test func aWorkerCrashingOnTheSameItemIsToldItIsAPoisonPill() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [
            ("steady", #"args = ["--record", "$RECORD"]"#),
            ("p", #"args = ["--record", "$RECORD", "--working", "batch 17", "--crash-on-item"]"#
                + "\npoison_pill_crashes = 3\n" + quietCrashes),
        ]))
        let supervisor = try sandbox.up(["--follow"], waitUntilReady: false)
        let poisoned = poll(timeout: .seconds(30)) { sandbox.records.contains { $0.hasPrefix("poison ") } }
        #expect(poisoned, "no poison record: \(sandbox.records)\n\(supervisor.log)")
        let starts = sandbox.startedPIDs(of: "p")
        #expect(starts.count == 4, "expected 3 crashes then the told start: \(sandbox.records)")
        let line = try #require(sandbox.records.first { $0.hasPrefix("poison ") })
        #expect(line.hasPrefix("poison batch 17 3 consecutive crashes on batch 17: killed by SIGABRT"), "\(line)")
        #expect(line.contains("test worker p: crashing on batch 17"), "\(line)")
        let settled = supervisor.waitForStatus { $0.find("p")?.state == "running" && $0.find("p")?.pid == starts.last }
        #expect(settled, "\(supervisor.statusTable)")
        #expect(supervisor.log.contains("event=poison_pill"), "\(supervisor.log)")
        #expect(supervisor.log.contains("crashes=3"))
        #expect(supervisor.logLines("Child restarting", ["child.id": "p"]).filter { $0.contains(#"item="batch 17""#) }.count == 3,
                "\(supervisor.log)")
        #expect(sandbox.startedPIDs(of: "steady").count == 1)
        #expect(try supervisor.stop() == 0, "\(supervisor.log)")
        #expect(sandbox.startedPIDs(of: "p").count == 4)
    }
}
