#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

/// Operator requests through the one entry point: refused at once, answered by the tree once done.
extension SupervisorTreeTests {
    @Suite struct OperatorRequests {
        @Test func stopHoldsTheChildAndWhatARestForOneChainTiesToItUntilStart() throws {
            var driver = bootedDriver(root(.restForOne, intensity: 0, [worker("a"), worker("b"), worker("c")]))
            let stop = driver.request(.stop(driver.id("b")))
            #expect(stop.answer == nil)
            #expect(driver.takeTrace() == ["SIGTERM c#1"])
            driver.die("c")
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            #expect(driver.answers[stop.ticket] == nil)   // not done until both are down
            driver.die("b")
            #expect(driver.answers[stop.ticket] == .done("stopped 'b' and what its node ties to it: 'c'; held until 'cidp start b'"))
            #expect(driver.state("b") == "stopped" && driver.state("c") == "stopped")
            #expect(driver.entry("b")?.reason == "stopped by the operator; 'cidp start b' starts it again")
            #expect(driver.state("root") == "running")

            // Held: a later restart of its sibling does not start them, and nothing counted (intensity 0).
            driver.advance(by: .seconds(30))
            #expect(driver.takeTrace() == [])
            #expect(driver.request(.restart(driver.id("b"))).answer == .refused(.heldStopped("b")))
            #expect(driver.request(.stop(driver.id("b"))).answer == .refused(.alreadyStopped("b")))
            // c was stopped with b: it starts with b, never alone before it.
            #expect(driver.request(.start(driver.id("c"))).answer == .refused(.stoppedWith("c", holder: "b")))
            #expect(driver.request(.restart(driver.id("c"))).answer == .refused(.stoppedWith("c", holder: "b")))
            #expect(OperatorRefusal.stoppedWith("c", holder: "b").description
                        == "'c' was stopped with 'b' and starts with it; use 'cidp start b'")

            let start = driver.request(.start(driver.id("b")))
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.ready("b")
            #expect(driver.takeTrace() == ["spawn c#2"])
            #expect(driver.answers[start.ticket] == nil)
            driver.ready("c")
            let answer = try #require(driver.answers[start.ticket])
            #expect(answer == .done("started 'b' (running, pid \(driver.pid("b"))), 'c' (running, pid \(driver.pid("c")))"))
            #expect(driver.instance("a") == "a#1")
            #expect(driver.finished == nil)
        }

        @Test func aCrashOfAnUntiedSiblingLeavesTheHeldChildStopped() {
            var driver = bootedDriver(root(.oneForOne, intensity: 5, [worker("a"), worker("b")]))
            driver.request(.stop(driver.id("b")))
            driver.die("b")
            _ = driver.takeTrace()
            driver.crash("a")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn a#2"])
            #expect(driver.state("b") == "stopped")
        }

        @Test func startIsRefusedForWhatNoOperatorStoppedAndStopForTheRoot() {
            var driver = bootedDriver(root([worker("a")]))
            #expect(driver.request(.start(driver.id("a"))).answer == .refused(.notStopped("a")))
            #expect(driver.request(.stop(SupervisorTree.rootID)).answer == .refused(.isRoot))
            #expect(OperatorRefusal.notStopped("a").description == "'a' is not stopped by an operator; use 'cidp restart a'")
        }

        @Test func aRestartIsAnsweredOnceItsChildIsReadyAgain() throws {
            var driver = bootedDriver(root([worker("a")]))
            let restart = driver.request(.restart(driver.id("a")))
            #expect(driver.answers[restart.ticket] == nil)
            driver.die("a")
            #expect(driver.answers[restart.ticket] == nil)
            driver.ready("a")
            #expect(driver.answers[restart.ticket] == .done("restarted 'a' (running, pid \(driver.pid("a")))"))
        }

        @Test func aRequestUnderWayWhenTheTreeShutsDownFails() {
            var driver = bootedDriver(root([worker("a")]))
            let restart = driver.request(.restart(driver.id("a")))
            driver.shutdown()
            #expect(driver.answers[restart.ticket] == .failed("the tree is shutting down; a not restarted"))
        }

        @Test func stoppingAWorkerOfARestForOneNodeNeverTouchesTheEarlierStages() {
            var driver = bootedDriver(root([node("etl", .restForOne, [worker("extractor"), worker("transformer"), worker("loader")])]))
            driver.request(.stop(driver.id("loader")))
            #expect(driver.takeTrace() == ["SIGTERM loader#1"])
            driver.die("loader")
            #expect(driver.state("extractor") == "running" && driver.state("transformer") == "running")
            #expect(driver.state("etl") == "running")
        }

        @Test func stoppingANodeHoldsItsWorkersStoppedUntilItStarts() throws {
            var driver = bootedDriver(root([worker("sim"), node("etl", .restForOne, [worker("extractor"), worker("loader")])]))
            let stop = driver.request(.stop(driver.id("etl")))
            #expect(driver.takeTrace() == ["SIGTERM loader#1"])
            driver.die("loader")
            #expect(driver.takeTrace() == ["SIGTERM extractor#1"])
            driver.die("extractor")
            #expect(driver.answers[stop.ticket] != nil)
            #expect(["etl", "extractor", "loader"].map { driver.state($0) } == ["stopped", "stopped", "stopped"])
            driver.advance(by: .seconds(30))
            #expect(driver.takeTrace() == [])
            #expect(driver.state("sim") == "running")
            let start = driver.request(.start(driver.id("etl")))
            #expect(driver.takeTrace() == ["spawn extractor#2"])
            driver.ready("extractor")
            #expect(driver.takeTrace() == ["spawn loader#2"])
            driver.ready("loader")
            #expect(driver.answers[start.ticket] != nil)
            #expect(["etl", "extractor", "loader"].map { driver.state($0) } == ["running", "running", "running"])
        }
    }
}
