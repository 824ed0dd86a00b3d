#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

extension SupervisorTreeTests {
    /// Operator restarts (`cidp restart NAME`) and failures in the middle of a group restart.
    @Suite struct Restarts {
        @Test func operatorRestartOfARestForOneMiddleChild() throws {
            var driver = bootedDriver(root(.restForOne, [worker("a"), worker("b"), worker("c")]))
            var tree = driver.tree
            let actions = tree.handle(.request(.restart(driver.id("b")), ticket: 1), now: .zero)
            driver.tree = tree
            #expect(actions.contains(.signal(pid: driver.pid("c"), signal: SIGTERM)))
            #expect(!actions.contains { if case .signal(driver.pid("b"), _) = $0 { true } else { false } })
            driver.die("c")
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            driver.die("b")
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn c#2"])
            #expect(driver.instance("a") == "a#1")
        }

        @Test func operatorRestartsAreNotCountedInIntensity() {
            var driver = bootedDriver(root(.oneForOne, intensity: 0, [worker("a"), worker("b")]))
            for round in 2...4 {
                driver.request(.restart(driver.id("b")))
                driver.die("b")
                driver.readyAll()
                #expect(driver.takeTrace() == ["SIGTERM b#\(round - 1)", "spawn b#\(round)"])
            }
            #expect(driver.finished == nil)
            #expect(driver.entry("b")?.restarts == 3)
            // The backoff is not advanced either: a crash now is the first restart.
            driver.crash("b")
            #expect(driver.takeTrace() == ["SIGTERM a#1"])   // intensity 0: give up
        }

        @Test func operatorRestartSupersedesAPendingBackoff() {
            var driver = bootedDriver(root(.oneForOne, intensity: 10, [worker("a", backoff: Backoff(
                initial: .seconds(30), maximum: .seconds(60), multiplier: 2, jitter: 0, stablePeriod: .seconds(600)))]))
            driver.crash("a")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn a#2"])   // the first restart is immediate
            driver.crash("a")
            #expect(driver.takeTrace() == [])               // the second waits out 30 s
            #expect(driver.state("a") == "restarting")
            driver.request(.restart(driver.id("a")))
            #expect(driver.takeTrace() == ["spawn a#3"])   // the operator's restart is now
            driver.readyAll()
            driver.advance(by: .seconds(31))
            #expect(driver.takeTrace() == [])               // and the delayed start is gone
            #expect(driver.state("a") == "running")
        }

        @Test func operatorRestartOfANodeRestartsItsWorkers() {
            var driver = bootedDriver(root([worker("sim"), node("etl", [worker("extractor"), worker("loader")])]))
            driver.request(.restart(driver.id("etl")))
            #expect(driver.takeTrace() == ["SIGTERM loader#1"])
            driver.die("loader")
            driver.die("extractor")
            driver.readyAll()
            #expect(driver.takeTrace() == ["SIGTERM extractor#1", "spawn extractor#2", "spawn loader#2"])
            #expect(driver.state("etl") == "running")
        }

        @Test func operatorRestartIsRefusedForTheRootAndDuringShutdown() {
            var driver = bootedDriver(root([worker("a")]))
            #expect(driver.request(.restart(SupervisorTree.rootID)).answer == .refused(.isRoot))
            driver.shutdown()
            #expect(driver.request(.restart(driver.id("a"))).answer == .refused(.shuttingDown))
        }

        @Test func aCrashWhileASiblingIsBeingStoppedJoinsTheGroupRestart() {
            var driver = bootedDriver(root(.oneForAll, intensity: 5, [worker("a"), worker("b"), worker("c")]))
            driver.crash("b")
            #expect(driver.takeTrace() == ["SIGTERM c#1"])
            driver.crash("a")                       // a goes down on its own while c is stopping
            #expect(driver.takeTrace() == [])
            #expect(driver.notices.filter(Backoffs.isSchedule).count == 2)
            driver.die("c")
            #expect(driver.takeTrace() == ["spawn a#2"])   // a is already down: not signalled
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn b#2", "spawn c#2"])
        }

        @Test func aCrashOfARestartedChildWhileLaterOnesAreStartingStartsTheGroupOver() {
            var driver = bootedDriver(root(.oneForAll, intensity: 5, [worker("a"), worker("b"), worker("c")]))
            driver.crash("b")
            driver.die("c")
            driver.die("a")
            driver.ready("a")
            #expect(driver.takeTrace() == ["SIGTERM c#1", "SIGTERM a#1", "spawn a#2", "spawn b#2"])
            driver.crash("a")                       // b#2 is still starting
            #expect(driver.takeTrace() == ["SIGTERM b#2"])
            driver.die("b")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn a#3", "spawn b#3", "spawn c#2"])
            #expect(["a", "b", "c"].map { driver.state($0) } == ["running", "running", "running"])
        }

        @Test func aCrashWhileASiblingIsStillSpawningStopsItOnceSpawned() {
            var driver = bootedDriver(root(.oneForAll, intensity: 5, [worker("a"), worker("b")]))
            driver.crash("b")
            driver.answersSpawns = false
            driver.die("a")
            driver.completeSpawn()
            driver.ready("a")
            #expect(driver.takeTrace() == ["SIGTERM a#1", "spawn a#2"])
            #expect(driver.pendingSpawns == [driver.id("b")])
            driver.crash("a")                       // b is spawning
            #expect(driver.takeTrace() == [])
            driver.completeSpawn()
            #expect(driver.takeTrace() == ["spawn b#2", "SIGTERM b#2"])
            driver.answersSpawns = true
            driver.die("b")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn a#3", "spawn b#3"])
        }

        @Test func aSpawnFailureOfASiblingBeingStoppedDoesNotStallTheGroupRestart() {
            var driver = bootedDriver(root(.oneForAll, intensity: 5, [worker("a"), worker("b")]))
            driver.crash("b")
            driver.answersSpawns = false
            driver.die("a")
            driver.completeSpawn()
            driver.ready("a")
            _ = driver.takeTrace()
            driver.crash("a")                       // b is spawning
            driver.answersSpawns = true
            driver.failSpawn()                      // and never comes up
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawnFailed b", "spawn a#3", "spawn b#2"])
            #expect(driver.state("b") == "running")
        }

        @Test func aTemporarySiblingIsNotRestartedByAGroupRestart() {
            var driver = bootedDriver(root(.oneForAll, intensity: 5, [worker("a"), worker("t", restart: .temporary), worker("c")]))
            driver.crash("c")
            driver.die("t")
            driver.die("a")
            driver.readyAll()
            #expect(driver.takeTrace() == ["SIGTERM t#1", "SIGTERM a#1", "spawn a#2", "spawn c#2"])
            #expect(driver.state("t") == "stopped")
        }

        @Test func aTemporarySiblingNotStartedYetIsStartedAfterAGroupRestart() {
            var driver = TreeDriver(root(.oneForAll, intensity: 5, [worker("a"), worker("b"), worker("t", restart: .temporary)]))
            driver.boot()
            driver.ready("a")
            driver.exit("b", .exited(code: 1))      // a failed start during boot
            driver.die("a")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn a#1", "spawn b#1", "SIGTERM a#1", "spawn a#2", "spawn b#2", "spawn t#1"])
            #expect(driver.state("t") == "running")
        }

        @Test func anOperatorRestartOfATemporaryWorkerStartsItAgain() {
            var driver = bootedDriver(root([worker("a"), worker("t", restart: .temporary)]))
            driver.request(.restart(driver.id("t")))
            driver.die("t")
            driver.readyAll()
            #expect(driver.takeTrace() == ["SIGTERM t#1", "spawn t#2"])
        }
    }
}
