#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

/// Restarts without delay, so intensity tests are about intensity alone.
let noBackoff = Backoff(initial: .zero, maximum: .zero, multiplier: 1, jitter: 0, stablePeriod: .seconds(10))

extension SupervisorTreeTests {
    @Suite struct Intensity {
        @Test func countsRestartsWithinThePeriodInclusive() {
            var intensity = RestartIntensity(intensity: 1, period: .seconds(5))
            #expect(intensity.record(at: .seconds(0)) == .allowed)
            // OTP (supervisor.erl add_restart/3) keeps restarts with Then >= Now - Period.
            #expect(intensity.record(at: .seconds(5)) == .exhausted)
        }

        @Test func forgetsRestartsOlderThanThePeriod() {
            var intensity = RestartIntensity(intensity: 1, period: .seconds(5))
            #expect(intensity.record(at: .seconds(0)) == .allowed)
            #expect(intensity.record(at: .milliseconds(5001)) == .allowed)
            #expect(intensity.count == 1)
        }

        @Test func restartsUpToTheIntensityThenTheRootGivesUpWithExitCode1() throws {
            var driver = bootedDriver(root(intensity: 2, [worker("a", backoff: noBackoff), worker("b")]))
            driver.crash("a")
            driver.ready("a")
            driver.setClock(.seconds(1))
            driver.crash("a")
            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn a#2", "spawn a#3"])

            driver.setClock(.seconds(2))
            driver.crash("a")
            // Third restart within 5 s > 2: stop the rest in reverse order, then finish.
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            #expect(driver.state("root") == "stopping")
            #expect(driver.finished == nil)
            driver.die("b")
            #expect(driver.takeTrace() == ["finished 1"])
            let finished = try #require(driver.finished)
            #expect(finished.exitCode == 1)
            #expect(finished.message.contains("'a'"))
            #expect(finished.message.contains("3 restarts"))
            #expect(driver.state("root") == "failed")
            #expect(driver.state("a") == "failed")
            #expect(driver.state("b") == "failed")
        }

        @Test func restartsOutsideThePeriodAreForgotten() {
            var driver = bootedDriver(root(intensity: 1, period: .seconds(5), [worker("a", backoff: noBackoff)]))
            driver.crash("a")
            driver.ready("a")
            driver.setClock(.milliseconds(5001))
            driver.crash("a")
            driver.ready("a")
            #expect(driver.takeTrace() == ["spawn a#2", "spawn a#3"])
            #expect(driver.finished == nil)
        }

        @Test func aRestartExactlyOnePeriodLaterStillCounts() {
            var driver = bootedDriver(root(intensity: 1, period: .seconds(5), [worker("a", backoff: noBackoff)]))
            driver.crash("a")
            driver.ready("a")
            driver.setClock(.seconds(5))
            driver.crash("a")
            #expect(driver.takeTrace() == ["spawn a#2", "finished 1"])
        }

        @Test func aNestedNodeThatGivesUpIsRestartedByItsParent() {
            var driver = bootedDriver(root(intensity: 3, [
                worker("sim"),
                node("etl", intensity: 1, [worker("extractor"), worker("loader", backoff: noBackoff)]),
            ]))
            driver.crash("loader")
            driver.ready("loader")
            #expect(driver.takeTrace() == ["spawn loader#2"])

            driver.setClock(.seconds(1))
            driver.crash("loader")
            // etl gives up: it stops its remaining children, then fails towards root.
            #expect(driver.takeTrace() == ["SIGTERM extractor#1"])
            #expect(driver.state("etl") == "stopping")
            #expect(driver.notices.contains { notice in
                guard case .gaveUp("etl", let reason) = notice else { return false }
                return reason.contains("'loader'") && reason.contains("2 restarts")
            })
            driver.die("extractor")
            // root (one_for_one) restarts etl as a whole; sim keeps running.
            #expect(driver.takeTrace() == ["spawn extractor#2"])
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn loader#3"])
            #expect(driver.instance("sim") == "sim#1")
            #expect(driver.state("etl") == "running")
            #expect(driver.entry("etl")?.restarts == 1)
        }

        @Test func aRestartedNodeStartsWithACleanHistory() {
            var driver = bootedDriver(root(intensity: 3, [
                node("etl", intensity: 1, [worker("loader", backoff: noBackoff)]),
            ]))
            driver.crash("loader")
            driver.readyAll()
            driver.crash("loader")      // etl gives up, root restarts it
            driver.readyAll()
            driver.crash("loader")      // the first restart of the new etl: allowed
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn loader#2", "spawn loader#3", "spawn loader#4"])
            #expect(driver.state("etl") == "running")
        }

        @Test func escalationToTheRootMakesItGiveUpNamingTheChildAndTheCount() throws {
            var driver = bootedDriver(root(intensity: 1, [
                worker("sim"),
                node("etl", intensity: 0, [worker("extractor"), worker("loader")]),
            ]))
            driver.crash("loader")              // etl gives up (1 > 0): stops extractor
            #expect(driver.takeTrace() == ["SIGTERM extractor#1"])
            driver.die("extractor")             // root restarts etl (1 ≤ 1)
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn extractor#2", "spawn loader#2"])

            driver.crash("extractor")           // etl gives up again: stops loader
            #expect(driver.takeTrace() == ["SIGTERM loader#2"])
            driver.die("loader")                // 2 > 1: root gives up, stops sim
            #expect(driver.takeTrace() == ["SIGTERM sim#1"])
            driver.die("sim")
            #expect(driver.takeTrace() == ["finished 1"])
            let finished = try #require(driver.finished)
            #expect(finished.exitCode == 1)
            #expect(finished.message.contains("'etl'"))
            #expect(finished.message.contains("'extractor'"))
            #expect(finished.message.contains("2 restarts of children of 'root'"))
            #expect(driver.state("etl") == "failed")
            #expect(driver.state("sim") == "failed")
        }

        @Test func aNodeThatCannotStartCountsAsAFailedStartOfItsParent() {
            var driver = TreeDriver(root(intensity: 5, [
                node("etl", intensity: 0, [worker("extractor"), worker("loader")]),
            ]))
            driver.boot()
            driver.ready("extractor")
            driver.exit("loader", .exited(code: 2))     // loader fails to start; etl gives up
            #expect(driver.takeTrace() == ["spawn extractor#1", "spawn loader#1", "SIGTERM extractor#1"])
            driver.die("extractor")
            #expect(driver.takeTrace() == ["spawn extractor#2"])
            #expect(driver.state("etl") == "starting")
            driver.readyAll()
            #expect(driver.state("root") == "running")
        }
    }
}
