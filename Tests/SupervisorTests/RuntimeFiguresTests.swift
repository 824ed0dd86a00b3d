@testable import Supervisor
import Testing

/// How the runtime counts restarts by cause and give-ups for `/metrics`: pure bookkeeping.
@Suite struct RuntimeFiguresTests {
    static func tree(restarts: [String: Int]) -> StatusTree {
        StatusTree(name: "root", kind: "node", state: "running", children: restarts.sorted { $0.key < $1.key }.map {
            StatusTree(name: $0.key, kind: "worker", state: "running", pid: 1, restarts: $0.value)
        })
    }

    @Test func eachRestartIsCountedOnceUnderTheCauseOfTheExitBeforeIt() {
        var figures = RuntimeFigures()
        figures.note(.exited(worker: "a", pid: 10, status: .signaled(signal: 9, coreDumped: false), expected: false))
        figures.attributeRestarts(in: Self.tree(restarts: ["a": 1, "b": 0]))
        figures.attributeRestarts(in: Self.tree(restarts: ["a": 1, "b": 0]))
        #expect(figures.restarts == ["a": ["signal SIGKILL": 1]])
        figures.note(.exited(worker: "a", pid: 11, status: .exited(code: 1), expected: false))
        figures.attributeRestarts(in: Self.tree(restarts: ["a": 2, "b": 0]))
        #expect(figures.restarts == ["a": ["signal SIGKILL": 1, "exit code 1": 1]])
    }

    @Test func aWatchdogKillIsCountedAsWatchdogNotAsItsSignal() {
        var figures = RuntimeFigures()
        figures.note(.watchdogExpired(worker: "a", pid: 10, silentFor: .seconds(3)))
        figures.note(.exited(worker: "a", pid: 10, status: .signaled(signal: 9, coreDumped: false), expected: false))
        figures.attributeRestarts(in: Self.tree(restarts: ["a": 1]))
        #expect(figures.restarts == ["a": ["watchdog": 1]])
    }

    @Test func restartsSeenWithoutAnExitAreUnknownAndGiveUpsAreCountedPerNode() {
        var figures = RuntimeFigures()
        figures.attributeRestarts(in: Self.tree(restarts: ["a": 2]))
        #expect(figures.restarts == ["a": ["unknown": 2]])
        figures.note(.gaveUp(node: "etl", reason: "too many"))
        figures.note(.gaveUp(node: "etl", reason: "again"))
        #expect(figures.giveUps == ["etl": 2])
    }
}
