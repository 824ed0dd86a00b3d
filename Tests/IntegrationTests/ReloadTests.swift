import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `cidp reload` and SIGHUP on a real `--follow` run of the default tree, the policy file edited
/// between reloads: exactly the affected pids change, a refused reload changes nothing, and the
/// warehouse ends exactly the stream's first records (EtlTests' independent computation).
@Suite(.timeLimit(.minutes(3)))
struct ReloadTests {
    func rowsLoaded(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path),
              let warehouse = try? Warehouse(readingOnly: path, busyTimeout: .milliseconds(100)) else { return 0 }
        return (try? warehouse.rowCount()) ?? 0
    }

    func write(_ text: String, to sandbox: Sandbox) throws {
        try text.write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)
    }

    @Test func eachKindOfChangeTouchesOnlyWhatChangedAndARefusalNothing() throws {
        let original = try EtlTests.defaultPolicy()
        let sandbox = try Sandbox(policy: original)
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "5000", "--db", db],
                                        waitUntilReady: false)
        let control = ["--run-dir", sandbox.runDirectory]
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= 3_000 })
        var pids = try supervisor.waitForAllRunning()

        // The same file: nothing changes.
        let same = try sandbox.cidp(["reload"] + control)
        #expect(same.code == 0 && same.stdout.contains("nothing changed"), "\(same.stdout) \(same.stderr)")
        #expect(try supervisor.pids() == pids)

        // A transformer gate changed: --dry-run says so and changes nothing; reload restarts the
        // transformer alone (not the loader its strategy ties to it on a crash).
        var policy = original.replacingOccurrences(of: "max_psi = 0.25\n", with: "max_psi = 0.3\n")
        #expect(policy != original)
        try write(policy, to: sandbox)
        let dry = try sandbox.cidp(["reload", "--dry-run"] + control)
        #expect(dry.code == 0 && dry.stdout.contains("restart 'transformer' with its new settings"), "\(dry.stdout) \(dry.stderr)")
        #expect(try supervisor.pids() == pids)
        let changed = try sandbox.cidp(["reload"] + control)
        #expect(changed.code == 0 && changed.stdout.contains("reloaded: restart 'transformer'"), "\(changed.stdout) \(changed.stderr)")
        var after = try supervisor.waitForAllRunning()
        #expect(after["transformer"] != pids["transformer"])
        #expect(after.filter { $0.key != "transformer" } == pids.filter { $0.key != "transformer" })
        pids = after

        // A node's intensity: no pid changes.
        policy = policy.replacingOccurrences(of: "intensity = 5\n", with: "intensity = 7\n")
        try write(policy, to: sandbox)
        let tuned = try sandbox.cidp(["reload"] + control)
        #expect(tuned.code == 0 && tuned.stdout.contains("node 'etl' takes its new intensity"), "\(tuned.stdout) \(tuned.stderr)")
        #expect(try supervisor.pids() == pids)

        // A worker added (by SIGHUP this time): it starts; nothing else changes.
        policy = policy.replacingOccurrences(of: "children = [\"sensor-sim\", \"etl\", \"ml\"]",
                                             with: "children = [\"sensor-sim\", \"etl\", \"ml\", \"probe\"]")
            + "\n[workers.probe]\nrole = \"test\"\n"
        try write(policy, to: sandbox)
        kill(supervisor.pid, SIGHUP)
        #expect(poll(timeout: .seconds(30)) { (try? supervisor.status())?.find("probe")?.state == "running" })
        after = try supervisor.pids()
        #expect(after.filter { $0.key != "probe" } == pids, "\(after) \(pids)")

        // Refused, nothing changed: a malformed file (one line naming it), and a change of wiring.
        try write(policy + "\n[workers.loader]\nrole = \n", to: sandbox)
        let malformed = try sandbox.cidp(["reload"] + control)
        #expect(malformed.code == 2 && malformed.stderr.contains("policy.toml"), "\(malformed.stderr)")
        #expect(malformed.stderr.split(separator: "\n").count == 1, "\(malformed.stderr)")
        let rewired = policy.replacingOccurrences(of: "[workers.probe]\nrole = \"test\"\n",
                                                  with: "[workers.probe]\nrole = \"test\"\ninput = \"loader\"\n")
        #expect(rewired != policy)
        try write(rewired, to: sandbox)
        let wiring = try sandbox.cidp(["reload"] + control)
        #expect(wiring.code == 2, "\(wiring.stdout) \(wiring.stderr)")
        #expect(try supervisor.pids() == after)

        // The worker removed again: it stops and is gone from the tree.
        try write(original, to: sandbox)
        let removed = try sandbox.cidp(["reload"] + control)
        #expect(removed.code == 0 && removed.stdout.contains("remove worker 'probe'"), "\(removed.stdout) \(removed.stderr)")
        let tree = try supervisor.status()
        #expect(tree.find("probe") == nil)
        #expect(try supervisor.pids().filter { $0.key != "transformer" } == pids.filter { $0.key != "transformer" })

        let rows = rowsLoaded(db)
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= rows + 3_000 })
        let shutdown = try sandbox.cidp(["stop"] + control)
        #expect(shutdown.code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(3000))")
        try EtlTests.checkWarehouse(db, count: Int(rowsLoaded(db)))
    }
}
