#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

extension SupervisorTreeTests {
    @Suite struct Shutdown {
        @Test func stopsInReverseOrderOneAtATimeThenFinishesWith0() throws {
            var driver = bootedDriver(root([
                worker("sim"),
                node("etl", [worker("extractor"), worker("loader")]),
                node("ml", [worker("trainer")]),
            ]))
            driver.shutdown("SIGTERM received")
            #expect(driver.takeTrace() == ["SIGTERM trainer#1"])
            driver.die("trainer")
            #expect(driver.takeTrace() == ["SIGTERM loader#1"])
            #expect(driver.state("ml") == "stopped")
            #expect(driver.state("etl") == "stopping")
            driver.die("loader")
            #expect(driver.takeTrace() == ["SIGTERM extractor#1"])
            driver.die("extractor")
            #expect(driver.takeTrace() == ["SIGTERM sim#1"])
            driver.die("sim")
            #expect(driver.takeTrace() == ["finished 0"])
            let finished = try #require(driver.finished)
            #expect(finished.message == "SIGTERM received")
            #expect(driver.tree.hasFinished)
            #expect(driver.state("root") == "stopped")
            #expect(driver.state("sim") == "stopped")
        }

        @Test func sendsSIGKILLExactlyAtTheGraceDeadline() {
            var driver = bootedDriver(root([worker("a", shutdown: .grace(.seconds(2))),
                                            worker("b", shutdown: .grace(.seconds(3)))]))
            driver.advance(to: .seconds(10))
            driver.shutdown()
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            #expect(driver.tree.nextDeadline() == .seconds(13))
            driver.advance(to: .nanoseconds(12_999_999_999))
            #expect(driver.takeTrace() == [])
            driver.advance(to: .seconds(13))
            #expect(driver.takeTrace() == ["SIGKILL b#1"])
            #expect(driver.notices.contains(.shutdownTimeout(worker: "b", pid: driver.pid("b"))))
            driver.advance(to: .seconds(30))        // one SIGKILL only
            #expect(driver.takeTrace() == [])
            driver.die("b")
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            #expect(driver.tree.nextDeadline() == .seconds(32))
            driver.exit("a", .exited(code: 0))      // exits in time: no SIGKILL
            #expect(driver.takeTrace() == ["finished 0"])
        }

        @Test func brutalKillSendsSIGKILLAtOnce() {
            var driver = bootedDriver(root([worker("a"), worker("b", shutdown: .brutalKill)]))
            driver.shutdown()
            #expect(driver.takeTrace() == ["SIGKILL b#1"])
            #expect(driver.tree.nextDeadline() == nil)
            driver.die("b")
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
        }

        @Test func aWorkerStillSpawningIsStoppedOnceItsPIDIsKnown() {
            var driver = TreeDriver(root([worker("a"), worker("b")]))
            driver.boot()
            driver.answersSpawns = false
            driver.ready("a")
            _ = driver.takeTrace()
            driver.shutdown()
            #expect(driver.takeTrace() == [])
            #expect(driver.finished == nil)
            driver.completeSpawn()
            #expect(driver.takeTrace() == ["spawn b#1", "SIGTERM b#1"])
            driver.die("b")
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            driver.die("a")
            #expect(driver.takeTrace() == ["finished 0"])
        }

        @Test func aWorkerWhoseSpawnFailsAfterAStopWasRequestedCountsAsStopped() {
            var driver = TreeDriver(root([worker("a"), worker("b")]))
            driver.boot()
            driver.answersSpawns = false
            driver.ready("a")
            _ = driver.takeTrace()
            driver.shutdown()
            driver.failSpawn()
            #expect(driver.takeTrace() == ["spawnFailed b", "SIGTERM a#1"])
            driver.die("a")
            #expect(driver.takeTrace() == ["finished 0"])
            #expect(driver.state("b") == "stopped")
        }

        @Test func duringARestartBackoffNothingIsSpawnedAgain() {
            var driver = bootedDriver(root([worker("a"), worker("b")]))
            driver.crash("b")
            driver.ready("b")
            driver.setClock(.seconds(1))
            driver.crash("b")                       // second restart: waits 100 ms
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.shutdown()
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            driver.advance(to: .milliseconds(1500))     // past b's start time, within a's grace
            #expect(driver.takeTrace() == [])
            driver.die("a")
            #expect(driver.takeTrace() == ["finished 0"])
            #expect(driver.state("b") == "stopped")
        }

        @Test func duringBootStopsWhatStartedAndNeverStartsTheRest() {
            var driver = TreeDriver(root([worker("a"), worker("b"), worker("c")]))
            driver.boot()
            driver.ready("a")
            driver.shutdown()
            #expect(driver.takeTrace() == ["spawn a#1", "spawn b#1", "SIGTERM b#1"])
            driver.die("b")
            driver.die("a")
            #expect(driver.takeTrace() == ["SIGTERM a#1", "finished 0"])
            #expect(driver.state("c") == "stopped")
        }

        @Test func aWorkerCrashingDuringShutdownIsNotRestarted() {
            var driver = bootedDriver(root([worker("a"), worker("b")]))
            driver.shutdown()
            driver.crash("a")
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            driver.die("b")
            #expect(driver.takeTrace() == ["finished 0"])
        }

        @Test func aSecondShutdownRequestChangesNothing() {
            var driver = bootedDriver(root([worker("a")]))
            driver.shutdown("first")
            driver.shutdown("second")
            driver.die("a")
            #expect(driver.takeTrace() == ["SIGTERM a#1", "finished 0"])
            #expect(driver.finished?.message == "first")
        }

        @Test func duringAGiveUpKeepsExitCode1() {
            var driver = bootedDriver(root(intensity: 0, [worker("a"), worker("b")]))
            driver.crash("b")
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            driver.shutdown("operator")
            driver.die("a")
            #expect(driver.takeTrace() == ["finished 1"])
        }
    }
}
