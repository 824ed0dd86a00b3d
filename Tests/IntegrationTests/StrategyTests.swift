@testable import cidp
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Each strategy on real processes: kill -9 one child and check exactly which pids changed.
@Suite(.timeLimit(.minutes(1)))
struct StrategyTests {
    static let trio = [("a", ""), ("b", ""), ("c", "")]

    /// Kills `victim` with SIGKILL and returns the pids before and after the tree settled again.
    func killAndSettle(_ supervisor: RunningSupervisor, victim: String, expectedRestarts: Set<String>) throws -> (before: [String: Int32], after: [String: Int32]) {
        let before = try supervisor.waitForAllRunning()
        kill(try #require(before[victim]), SIGKILL)
        var after: [String: Int32] = [:]
        let settled = try poll {
            let tree = try supervisor.status()
            after = try supervisor.pids()
            let changed = Set(after.filter { before[$0.key] != $0.value }.keys)
            return tree.workers.allSatisfy { $0.state == "running" } && changed.isSuperset(of: expectedRestarts)
        }
        #expect(settled, "tree did not settle: \((try? supervisor.status().renderTable()) ?? "")")
        return (before, after)
    }

    @Test func oneForOneRestartsOnlyTheKilledChild() throws {
        let sandbox = try Sandbox(policy: flatPolicy(strategy: "one_for_one", workers: Self.trio))
        let supervisor = try sandbox.up()
        let (before, after) = try killAndSettle(supervisor, victim: "b", expectedRestarts: ["b"])
        #expect(after["a"] == before["a"])
        #expect(after["b"] != before["b"])
        #expect(after["c"] == before["c"])
        #expect(try supervisor.status().find("b")?.restarts == 1)
    }

    @Test func oneForAllRestartsEveryChild() throws {
        let sandbox = try Sandbox(policy: flatPolicy(strategy: "one_for_all", workers: Self.trio))
        let supervisor = try sandbox.up()
        let (before, after) = try killAndSettle(supervisor, victim: "b", expectedRestarts: ["a", "b", "c"])
        for name in ["a", "b", "c"] { #expect(after[name] != before[name], "\(name) kept its pid") }
        for name in ["a", "b", "c"] { #expect(!isAlive(before[name]!), "old \(name) still alive") }
    }

    @Test func restForOneRestartsTheChildAndItsYoungerSiblings() throws {
        let sandbox = try Sandbox(policy: flatPolicy(strategy: "rest_for_one", workers: Self.trio))
        let supervisor = try sandbox.up()
        let (before, after) = try killAndSettle(supervisor, victim: "b", expectedRestarts: ["b", "c"])
        #expect(after["a"] == before["a"])
        #expect(after["b"] != before["b"])
        #expect(after["c"] != before["c"])
    }

    @Test func nestedNodeRestartsStayInsideTheirNode() throws {
        let policy = """
        [supervisor]
        children = ["solo", "chain"]
        [nodes.chain]
        strategy = "one_for_all"
        children = ["x", "y"]
        [defaults.backoff]
        initial_ms = 10
        jitter = 0.0
        [workers.solo]
        role = "test"
        [workers.x]
        role = "test"
        [workers.y]
        role = "test"
        """
        let sandbox = try Sandbox(policy: policy)
        let supervisor = try sandbox.up()
        let (before, after) = try killAndSettle(supervisor, victim: "y", expectedRestarts: ["x", "y"])
        #expect(after["solo"] == before["solo"])
        #expect(after["x"] != before["x"])
        #expect(after["y"] != before["y"])
    }
}
