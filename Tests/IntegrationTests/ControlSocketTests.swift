@testable import cidp
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `cidp status|restart|stop` and the control socket itself, against a real supervisor.
@Suite(.timeLimit(.minutes(1)))
struct ControlSocketTests {
    static let trio = flatPolicy(strategy: "rest_for_one", workers: [("a", ""), ("b", ""), ("c", "")])

    @Test func statusJSONDescribesTheWholeTree() throws {
        let sandbox = try Sandbox(policy: """
            [supervisor]
            name = "top"
            children = ["a", "grp"]
            [nodes.grp]
            children = ["b"]
            [workers.a]
            role = "test"
            [workers.b]
            role = "test"
            """)
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()

        let result = try sandbox.cidp(["status", "--json", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 0, "\(result.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(root["name"] as? String == "top")
        let children = try #require(root["children"] as? [[String: Any]])
        #expect(children.map { $0["name"] as? String } == ["a", "grp"])

        func workers(_ node: [String: Any]) -> [[String: Any]] {
            if let children = node["children"] as? [[String: Any]] { return children.flatMap(workers) }
            return [node]
        }
        let found = workers(root)
        #expect(found.compactMap { $0["name"] as? String } == ["a", "b"])
        for worker in found {
            let name = try #require(worker["name"] as? String)
            #expect(worker["kind"] as? String == "worker")
            #expect((worker["pid"] as? Int).map(Int32.init) == pids[name], "\(worker)")
            #expect(worker["state"] as? String == "running", "\(worker)")
            #expect(worker["restarts"] as? Int == 0, "\(worker)")
        }
    }

    @Test func statusTextListsEveryWorker() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()

        let result = try sandbox.cidp(["status", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        for (name, pid) in pids {
            #expect(lines.contains { $0.first == name && $0.contains(String(pid)) && $0.contains("running") },
                    "\(name) missing: \(result.stdout)")
        }
        #expect(lines.contains { $0.first == "root" }, "\(result.stdout)")
    }

    @Test func restartUnderRestForOneReplacesTheWorkerAndItsYoungerSiblings() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        let before = try supervisor.waitForAllRunning()

        let result = try sandbox.cidp(["restart", "b", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdout.contains("restarted 'b'"), "\(result.stdout)")
        // No polling: the command returns only once the restart is done.
        let tree = try supervisor.status()
        #expect(tree.workers.allSatisfy { $0.state == "running" }, "\(tree.renderTable())")
        let after = try supervisor.pids()
        #expect(after["a"] == before["a"])
        #expect(after["b"] != before["b"] && after["b"] != nil)
        #expect(after["c"] != before["c"] && after["c"] != nil)
        #expect(!isAlive(before["b"]!) && !isAlive(before["c"]!))
    }

    @Test func restartOfAnUnknownWorkerExitsTwoNamingIt() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        let before = try supervisor.waitForAllRunning()

        let result = try sandbox.cidp(["restart", "nosuch", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2)
        #expect(result.stderr.contains("'nosuch'"), "\(result.stderr)")
        #expect(try supervisor.pids() == before)
    }

    @Test func stopReturnsOnceTheSupervisorHasExited() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()

        let result = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 0, "\(result.stderr)")
        // Checked at once, without polling: that is the contract of 'stop'.
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))
        for (name, pid) in pids { #expect(!isAlive(pid), "\(name) still alive") }
        #expect(supervisor.log.contains("Supervisor stopped exit.code=0"), "\(supervisor.log)")
        // The run directory is free again: a new supervisor can take it right away.
        let next = try sandbox.up()
        #expect(next.isRunning, "\(next.log)")
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log)")
    }

    @Test func statusWithoutASupervisorExitsTwo() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let result = try sandbox.cidp(["status", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2)
        #expect(result.stderr.contains("no running cidp supervisor at \(sandbox.socketPath)"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test func secondUpInTheSameRunDirectoryIsRefused() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let first = try sandbox.up()
        let pids = try first.waitForAllRunning()

        let second = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory])
        #expect(second.code == 2)
        #expect(second.stderr.contains(sandbox.runDirectory), "\(second.stderr)")
        #expect(second.stderr.contains("pid \(first.pid)"), "\(second.stderr)")
        #expect(first.isRunning)
        #expect(FileManager.default.fileExists(atPath: sandbox.socketPath))
        #expect(try first.pids() == pids)
        #expect(try first.status().workers.allSatisfy { $0.state == "running" && $0.restarts == 0 })
    }

    @Test func socketIsPrivateToItsOwner() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        _ = try supervisor.waitForAllRunning()
        #expect(permissionBits(sandbox.socketPath) == 0o600)
    }

    @Test func clientOfAnotherUserIsRefused() throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()
        try #require(geteuid() == 0, "needs root to run a client as another uid")

        // Only the SO_PEERCRED check may stand in the way.
        for directory in [sandbox.path, sandbox.runDirectory] { chmod(directory, 0o755) }
        chmod(sandbox.socketPath, 0o666)
        var binary = cidpBinary
        if !isExecutableByOthers(binary) {
            binary = sandbox.path + "/cidp-copy"
            try FileManager.default.copyItem(atPath: cidpBinary, toPath: binary)
            chmod(binary, 0o755)
        }
        #expect(isExecutableByOthers(binary))

        let result = try sandbox.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                          binary, "status", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2, "stdout: \(result.stdout) stderr: \(result.stderr)")
        #expect(result.stderr.contains("permission denied"), "\(result.stderr)")
        #expect(!result.stdout.contains("running"), "\(result.stdout)")
        #expect(poll { supervisor.log.contains("Control client refused: wrong user") }, "\(supervisor.log)")
        #expect(supervisor.isRunning)
        #expect(try supervisor.pids() == pids)
    }

    @Test(arguments: ["bogus\n", "restart\n", "status extra words\n", String(repeating: "x", count: 5000)])
    func malformedRequestGetsAnErrorReplyAndTheSupervisorKeepsRunning(request: String) throws {
        let sandbox = try Sandbox(policy: Self.trio)
        let supervisor = try sandbox.up()
        let pids = try supervisor.waitForAllRunning()

        let reply = try exchangeRaw(socketPath: sandbox.socketPath, Array(request.utf8))
        let line = try #require(reply.split(separator: "\n").first, "no reply")
        let decoded = try JSONDecoder().decode(ControlReply.self, from: Data(line.utf8))
        #expect(decoded.ok == false)
        #expect(decoded.error?.isEmpty == false, "\(reply)")
        #expect(supervisor.isRunning)
        #expect(try supervisor.pids() == pids)
        #expect(try supervisor.status().workers.allSatisfy { $0.state == "running" })
    }
}
