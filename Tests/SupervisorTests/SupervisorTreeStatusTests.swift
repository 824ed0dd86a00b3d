#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

extension SupervisorTreeTests {
    @Suite struct Status {
        @Test func statesThroughBootRunDegradeRestartStopAndFail() {
            var driver = TreeDriver(root(intensity: 1, [worker("a"), node("etl", [worker("b")])]))
            #expect(driver.state("a") == "stopped")
            #expect(driver.state("root") == "stopped")

            driver.answersSpawns = false
            driver.boot()
            #expect(driver.state("a") == "starting")         // spawning
            #expect(driver.entry("a")?.pid == nil)
            driver.completeSpawn()
            #expect(driver.state("a") == "starting")
            #expect(driver.entry("a")?.pid == driver.pid("a"))
            #expect(driver.state("root") == "starting")

            driver.ready("a")
            driver.answersSpawns = true
            driver.completeSpawn()
            driver.advance(to: .seconds(2))
            driver.ready("b")
            #expect(driver.state("a") == "running")
            #expect(driver.entry("a")?.uptime == .seconds(2))
            #expect(driver.entry("b")?.uptime == .zero)
            #expect(driver.state("etl") == "running")
            #expect(driver.state("root") == "running")
            #expect(driver.entry("root")?.uptime == .seconds(2))
            #expect(driver.entry("etl")?.detail == "one_for_one")
            #expect(driver.entry("a")?.detail == "permanent")

            driver.send(.health(driver.id("b"), pid: driver.pid("b"), degraded: "sensor API unreachable"))
            #expect(driver.state("b") == "degraded")
            #expect(driver.entry("b")?.reason == "sensor API unreachable")
            driver.send(.health(driver.id("b"), pid: driver.pid("b"), degraded: nil))
            #expect(driver.state("b") == "running")

            driver.crash("b")
            driver.ready("b")
            driver.crash("b")                                // second: waits its backoff
            #expect(driver.state("b") == "restarting")
            #expect(driver.entry("b")?.reason == "last signal SIGSEGV (core dumped)")
            #expect(driver.entry("b")?.restarts == 1)
            driver.advance(by: .seconds(1))
            driver.ready("b")

            driver.crash("a")                                // root: 1 restart allowed
            driver.ready("a")
            driver.crash("a")                                // 2 > 1: root gives up
            #expect(driver.state("b") == "stopping")
            #expect(driver.state("etl") == "stopping")
            #expect(driver.state("root") == "stopping")
            driver.die("b")
            #expect(driver.state("b") == "failed")
            #expect(driver.state("a") == "failed")
            #expect(driver.state("root") == "failed")
            #expect(driver.entry("root")?.reason?.contains("'a'") == true)
            #expect(driver.finished?.exitCode == 1)
        }

        @Test func aTemporaryWorkerThatExitedIsStoppedNotFailed() {
            var driver = bootedDriver(root([worker("a", restart: .temporary)]))
            driver.exit("a", .exited(code: 4))
            #expect(driver.state("a") == "stopped")
            #expect(driver.entry("a")?.reason == "last exit code 4")
            #expect(driver.entry("a")?.pid == nil)
        }
    }
}
