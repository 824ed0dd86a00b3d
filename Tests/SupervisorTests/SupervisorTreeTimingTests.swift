#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

extension SupervisorTreeTests {
    @Suite struct Backoffs {
        @Test func delayIsZeroThenCappedExponential() {
            let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2, jitter: 0)
            let delays = (1...7).map { backoff.delay(forRestart: $0, unitRandom: 0.9) }
            #expect(delays == [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(400),
                               .milliseconds(800), .seconds(1), .seconds(1)])
        }

        @Test func jitterSpreadsWithinItsFractionAndNeverPassesTheCap() {
            let backoff = Backoff(initial: .seconds(1), maximum: .seconds(2), multiplier: 2, jitter: 0.5)
            #expect(backoff.delay(forRestart: 2, unitRandom: 0) == .milliseconds(500))
            #expect(backoff.delay(forRestart: 2, unitRandom: 0.5) == .seconds(1))
            #expect(backoff.delay(forRestart: 3, unitRandom: 0.99) == .seconds(2))
        }

        @Test func firstRestartIsImmediateTheSecondWaitsTheInitialDelay() {
            var driver = bootedDriver(root(intensity: 10, [worker("a")]))
            driver.setClock(.seconds(1))
            driver.crash("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
            #expect(driver.notices.last(where: Self.isSchedule) ==
                    .restartScheduled(child: "a", delay: .zero, restarts: 1, item: nil))
            driver.ready("a")

            driver.setClock(.seconds(2))
            driver.crash("a")
            #expect(driver.takeTrace() == [])
            #expect(driver.state("a") == "restarting")
            #expect(driver.tree.nextDeadline() == .milliseconds(2100))
            driver.advance(to: .milliseconds(2099))
            #expect(driver.takeTrace() == [])
            driver.advance(to: .milliseconds(2100))
            #expect(driver.takeTrace() == ["spawn a#3"])
            driver.ready("a")

            driver.setClock(.seconds(3))
            driver.crash("a")
            driver.advance(to: .milliseconds(3199))
            #expect(driver.takeTrace() == [])
            driver.advance(to: .milliseconds(3200))
            #expect(driver.takeTrace() == ["spawn a#4"])
        }

        @Test func resetsAfterTheChildStayedUpForItsStablePeriod() {
            var driver = bootedDriver(root(intensity: 10, [worker("a")]))
            driver.crash("a")
            driver.ready("a")
            driver.setClock(.seconds(1))
            driver.crash("a")
            driver.advance(to: .milliseconds(1100))
            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn a#2", "spawn a#3"])

            // Ready at 1.1 s; stable period 10 s.
            driver.setClock(.milliseconds(11_099))
            driver.crash("a")
            #expect(driver.takeTrace() == [])      // not yet stable: 200 ms
            driver.advance(to: .milliseconds(11_299))
            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn a#4"])

            driver.setClock(.milliseconds(21_299))
            driver.crash("a")
            #expect(driver.takeTrace() == ["spawn a#5"])     // stable: immediate again
        }

        @Test func failedStartsAfterAStableRunStillBackOff() {
            var driver = bootedDriver(root(intensity: 10, [worker("a")]))
            driver.setClock(.seconds(20))
            driver.crash("a")                       // stable for 20 s: immediate
            #expect(driver.takeTrace() == ["spawn a#2"])
            driver.setClock(.milliseconds(20_500))
            driver.exit("a", .exited(code: 1))      // never ready: second consecutive restart
            #expect(driver.takeTrace() == [])
            driver.advance(to: .milliseconds(20_600))
            #expect(driver.takeTrace() == ["spawn a#3"])
        }

        @Test func theDelayOfAGroupRestartIsAppliedBeforeItsFirstStart() {
            var driver = bootedDriver(root(.restForOne, intensity: 10, [worker("a"), worker("b"), worker("c")]))
            driver.crash("b")
            driver.die("c")
            driver.readyAll()
            #expect(driver.takeTrace() == ["SIGTERM c#1", "spawn b#2", "spawn c#2"])
            driver.setClock(.seconds(1))
            driver.crash("b")
            driver.die("c")
            #expect(driver.takeTrace() == ["SIGTERM c#2"])
            driver.advance(to: .milliseconds(1100))
            #expect(driver.takeTrace() == ["spawn b#3"])
            driver.ready("b")
            #expect(driver.takeTrace() == ["spawn c#3"])
        }

        static func isSchedule(_ notice: TreeNotice) -> Bool {
            if case .restartScheduled = notice { return true }
            return false
        }
    }

    @Suite struct Watchdog {
        @Test func firesExactlyAtTheDeadlineAndNotBefore() {
            var driver = TreeDriver(root([worker("a", watchdog: .seconds(5))]))
            driver.boot()
            driver.setClock(.seconds(1))
            driver.ready("a")                       // the watchdog starts at ready
            #expect(driver.tree.nextDeadline() == .seconds(6))
            driver.advance(to: .seconds(4))
            driver.heartbeat("a")
            #expect(driver.tree.nextDeadline() == .seconds(9))
            driver.advance(to: .seconds(8))
            driver.advance(to: .nanoseconds(8_999_999_999))
            #expect(driver.takeTrace() == ["spawn a#1"])
            driver.advance(to: .seconds(9))
            #expect(driver.takeTrace() == ["SIGKILL a#1"])
            #expect(driver.notices.contains(.watchdogExpired(worker: "a", pid: driver.pid("a"), silentFor: .seconds(5))))
            #expect(driver.state("a") == "stopping")
            driver.advance(to: .seconds(20))        // killed once, not again
            #expect(driver.takeTrace() == [])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
        }

        @Test func heartbeatsFromAnOldPIDDoNotFeedTheWatchdog() {
            var driver = bootedDriver(root([worker("a", watchdog: .seconds(5))]))
            let oldPID = driver.pid("a")
            driver.crash("a")
            driver.ready("a")
            driver.advance(to: .seconds(4))
            driver.send(.heartbeat(driver.id("a"), pid: oldPID))
            driver.advance(to: .seconds(5))
            #expect(driver.takeTrace() == ["spawn a#2", "SIGKILL a#2"])
        }

        @Test func aWatchdogKillCountsAsAnAbnormalExitAgainstIntensity() {
            var driver = bootedDriver(root(intensity: 0, [worker("a", watchdog: .seconds(1)), worker("b")]))
            driver.advance(to: .seconds(1))
            driver.die("a")
            #expect(driver.takeTrace() == ["SIGKILL a#1", "SIGTERM b#1"])
        }
    }

    @Suite struct Readiness {
        @Test func aWorkerNotReadyInTimeIsKilledAndRestarted() {
            var driver = TreeDriver(root([worker("a", readiness: .seconds(3)), worker("b")]))
            driver.boot()
            #expect(driver.tree.nextDeadline() == .seconds(3))
            driver.advance(to: .nanoseconds(2_999_999_999))
            #expect(driver.takeTrace() == ["spawn a#1"])
            driver.advance(to: .seconds(3))
            #expect(driver.takeTrace() == ["SIGKILL a#1"])
            #expect(driver.notices.contains(.readinessTimeout(worker: "a", pid: driver.pid("a"))))
            // A late ready from the doomed process does not count.
            driver.ready("a")
            #expect(driver.takeTrace() == [])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
            #expect(driver.notices.contains { if case .startFailed(worker: "a", _) = $0 { true } else { false } })
            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn b#1"])
        }

        @Test func readinessTimeoutsCountAgainstIntensity() throws {
            var driver = TreeDriver(root(intensity: 1, [worker("a", readiness: .seconds(1), backoff: noBackoff)]))
            driver.boot()
            driver.advance(to: .seconds(1))
            driver.die("a")
            driver.advance(to: .seconds(2))
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#1", "SIGKILL a#1", "spawn a#2", "SIGKILL a#2", "finished 1"])
            let finished = try #require(driver.finished)
            #expect(finished.message.contains("'a' failed to start"))
        }

        @Test func aSpawnFailureIsAFailedStart() {
            var driver = TreeDriver(root(intensity: 3, [worker("a", backoff: noBackoff)]))
            driver.answersSpawns = false
            driver.boot()
            driver.failSpawn()
            driver.completeSpawn()
            #expect(driver.takeTrace() == ["spawnFailed a", "spawn a#1"])
            #expect(driver.state("a") == "starting")
        }
    }
}
