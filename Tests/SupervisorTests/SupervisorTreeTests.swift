#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

/// The pure supervision state machine, driven by `TreeDriver` (a fake OS and a manual clock).
/// Nested suites live in `SupervisorTree*Tests.swift`.
@Suite struct SupervisorTreeTests {
    @Suite struct Boot {
        @Test func startsChildrenInOrderEachOnlyAfterThePreviousIsReady() {
            var driver = TreeDriver(root([worker("a"), worker("b"), worker("c")]))
            driver.boot()
            #expect(driver.takeTrace() == ["spawn a#1"])
            #expect(driver.state("b") == "stopped")

            // Heartbeats and time do not count as readiness.
            driver.heartbeat("a")
            driver.advance(by: .seconds(1))
            #expect(driver.takeTrace() == [])

            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn b#1"])
            driver.ready("b")
            #expect(driver.takeTrace() == ["spawn c#1"])
            #expect(!driver.notices.contains { if case .treeReady = $0 { true } else { false } })
            driver.ready("c")
            #expect(driver.takeTrace() == [])
            #expect(driver.notices.last == .treeReady(after: .seconds(1)))
            #expect(driver.state("root") == "running")
        }

        @Test func readyFromAStalePIDIsIgnored() {
            var driver = TreeDriver(root([worker("a"), worker("b")]))
            driver.boot()
            driver.send(.ready(driver.id("a"), pid: 9999))
            #expect(driver.takeTrace() == ["spawn a#1"])
            #expect(driver.state("a") == "starting")
        }

        @Test func bootsNestedNodesDepthFirst() {
            var driver = TreeDriver(root([
                worker("sim"),
                node("etl", .restForOne, [worker("extractor"), worker("transformer")]),
                node("ml", [worker("trainer")]),
            ]))
            driver.boot()
            #expect(driver.takeTrace() == ["spawn sim#1"])
            driver.ready("sim")
            #expect(driver.takeTrace() == ["spawn extractor#1"])
            #expect(driver.state("etl") == "starting")
            #expect(driver.state("ml") == "stopped")
            driver.ready("extractor")
            #expect(driver.takeTrace() == ["spawn transformer#1"])
            driver.ready("transformer")
            #expect(driver.takeTrace() == ["spawn trainer#1"])
            #expect(driver.state("etl") == "running")
            driver.ready("trainer")
            #expect(driver.state("ml") == "running")
            #expect(driver.state("root") == "running")
            #expect(driver.notices.last == .treeReady(after: .zero))
        }
    }

    @Suite struct Strategies {
        @Test func oneForOneRestartsOnlyTheCrashedChild() {
            var driver = bootedDriver(root(.oneForOne, [worker("a"), worker("b"), worker("c")]))
            driver.crash("b")
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.ready("b")
            #expect(driver.instance("a") == "a#1")
            #expect(driver.instance("c") == "c#1")
            #expect(driver.state("b") == "running")
        }

        @Test func oneForAllStopsTheOthersInReverseThenStartsAllInOrder() {
            var driver = bootedDriver(root(.oneForAll, [worker("a"), worker("b"), worker("c")]))
            driver.crash("b")
            #expect(driver.takeTrace() == ["SIGTERM c#1"])
            driver.die("c")
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.ready("b")
            #expect(driver.takeTrace() == ["spawn c#2"])
            driver.ready("c")
            #expect(driver.takeTrace() == [])
            #expect(["a", "b", "c"].map { driver.state($0) } == ["running", "running", "running"])
        }

        @Test func restForOneRestartsTheCrashedChildAndTheLaterOnes() {
            var driver = bootedDriver(root(.restForOne, [worker("a"), worker("b"), worker("c"), worker("d")]))
            driver.crash("b")
            #expect(driver.takeTrace() == ["SIGTERM d#1"])
            driver.die("d")
            #expect(driver.takeTrace() == ["SIGTERM c#1"])
            driver.die("c")
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn c#2", "spawn d#2"])
            #expect(driver.instance("a") == "a#1")
        }

        @Test func restForOneOnTheLastChildRestartsOnlyIt() {
            var driver = bootedDriver(root(.restForOne, [worker("a"), worker("b")]))
            driver.crash("b")
            #expect(driver.takeTrace() == ["spawn b#2"])
            #expect(driver.instance("a") == "a#1")
        }

        @Test func aCrashInANestedNodeStaysInsideIt() {
            var driver = bootedDriver(root(.oneForAll, [
                worker("sim"),
                node("etl", .oneForAll, [worker("extractor"), worker("loader")]),
            ]))
            driver.crash("loader")
            #expect(driver.takeTrace() == ["SIGTERM extractor#1"])
            driver.die("extractor")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn extractor#2", "spawn loader#2"])
            #expect(driver.instance("sim") == "sim#1")
        }
    }

    @Suite struct RestartTypes {
        struct Case: Sendable, CustomTestStringConvertible {
            var restart: RestartType
            var exit: Supervisor.ExitStatus
            var restarted: Bool
            var testDescription: String { "\(restart) after \(exit) → \(restarted ? "restarted" : "stays down")" }
        }

        static let cases: [Case] = [
            Case(restart: .permanent, exit: .exited(code: 0), restarted: true),
            Case(restart: .permanent, exit: .exited(code: 3), restarted: true),
            Case(restart: .permanent, exit: .signaled(signal: SIGKILL, coreDumped: false), restarted: true),
            Case(restart: .transient, exit: .exited(code: 0), restarted: false),
            Case(restart: .transient, exit: .exited(code: 3), restarted: true),
            Case(restart: .transient, exit: .signaled(signal: SIGTERM, coreDumped: false), restarted: true),
            Case(restart: .temporary, exit: .exited(code: 0), restarted: false),
            Case(restart: .temporary, exit: .exited(code: 3), restarted: false),
            Case(restart: .temporary, exit: .signaled(signal: SIGSEGV, coreDumped: true), restarted: false),
        ]

        @Test(arguments: cases)
        func restartDependsOnTypeAndExit(_ c: Case) {
            var driver = bootedDriver(root(.oneForAll, [worker("a"), worker("b", restart: c.restart), worker("c")]))
            driver.exit("b", c.exit)
            if c.restarted {
                #expect(driver.takeTrace() == ["SIGTERM c#1"])
                driver.die("c")
                #expect(driver.takeTrace() == ["SIGTERM a#1"])
            } else {
                // Not restarted: the siblings are left alone too.
                #expect(driver.takeTrace() == [])
                #expect(driver.state("b") == "stopped")
                #expect(driver.entry("b")?.reason == "last \(c.exit)")
                #expect(driver.instance("a") == "a#1")
                #expect(driver.instance("c") == "c#1")
            }
        }

        @Test func transientIsRestartedAfterItsWatchdogFires() {
            var driver = bootedDriver(root([worker("a", restart: .transient, watchdog: .seconds(2))]))
            driver.advance(to: .seconds(2))
            #expect(driver.takeTrace() == ["SIGKILL a#1"])
            // It may have exited 0 on its own as the kill arrived: the watchdog alone makes it abnormal.
            driver.exit("a", .exited(code: 0))
            #expect(driver.takeTrace() == ["spawn a#2"])
        }

        @Test func transientIsRestartedAfterAReadinessTimeout() {
            var driver = TreeDriver(root([worker("a", restart: .transient, readiness: .seconds(3))]))
            driver.boot()
            driver.advance(to: .seconds(3))
            #expect(driver.takeTrace() == ["spawn a#1", "SIGKILL a#1"])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
        }
    }
}
