#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

/// `cidp upgrade` in the engine: one worker replaced by a process of a new binary, rolled back
/// when the new one does not become ready.
extension SupervisorTreeTests {
    @Suite struct Upgrades {
        @Test func aWorkerIsStoppedAndStartedFromTheNewBinaryAloneAndReportsItsBuild() throws {
            var driver = bootedDriver(root([node("etl", .restForOne, [worker("extractor"), worker("transformer"), worker("loader")])]))
            let upgrade = driver.request(.upgrade(driver.id("transformer"), executable: "/opt/cidp-2/cidp"))
            #expect(upgrade.answer == nil)
            #expect(driver.takeTrace() == ["SIGTERM transformer#1"])
            driver.die("transformer")
            #expect(driver.takeTrace() == ["spawn transformer#2"])
            #expect(driver.tree.workerSpec(driver.id("transformer")).executable == "/opt/cidp-2/cidp")
            #expect(driver.answers[upgrade.ticket] == nil)
            driver.send(.ready(driver.id("transformer"), pid: driver.pid("transformer"), build: "0.10.0+new"))
            #expect(driver.answers[upgrade.ticket]
                        == .done("upgraded 'transformer' (running, pid \(driver.pid("transformer")), build 0.10.0+new)"))
            #expect(driver.entry("transformer")?.build == "0.10.0+new")
            // Its strategy ties no sibling to an upgrade.
            #expect(driver.instance("extractor") == "extractor#1" && driver.instance("loader") == "loader#1")
        }

        @Test func aNewBinaryThatExitsBeforeReadyIsRolledBackWithoutChargingIntensity() throws {
            var driver = bootedDriver(root(intensity: 0, [worker("a"), worker("b")]))
            let upgrade = driver.request(.upgrade(driver.id("a"), executable: "/tmp/broken"))
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
            driver.exit("a", .exited(code: 127))
            // At once, with the previous executable, and the root (intensity 0) does not give up.
            #expect(driver.takeTrace() == ["spawn a#3"])
            #expect(driver.tree.workerSpec(driver.id("a")).executable == "/bin/true")
            #expect(driver.answers[upgrade.ticket] == nil)
            driver.ready("a")
            let answer = try #require(driver.answers[upgrade.ticket])
            guard case .failed(let why) = answer else { Issue.record("\(answer)"); return }
            #expect(why.hasPrefix("'a' did not become ready on the new binary (") && why.hasSuffix("rolled back: the previous binary runs again, pid \(driver.pid("a"))"), "\(why)")
            #expect(driver.finished == nil && driver.state("root") == "running")
            #expect(driver.notices.contains { if case .upgradeRolledBack(worker: "a", _) = $0 { return true }; return false })
        }

        @Test func aNewBinaryThatNeverAnswersIsRolledBackAtItsReadinessTimeout() throws {
            var driver = bootedDriver(root([worker("a", readiness: .seconds(2))]))
            let upgrade = driver.request(.upgrade(driver.id("a"), executable: nil))
            #expect(driver.takeTrace() == ["SIGTERM a#1"])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#2"])
            driver.advance(by: .seconds(2))
            #expect(driver.takeTrace() == ["SIGKILL a#2"])
            driver.die("a")
            #expect(driver.takeTrace() == ["spawn a#3"])
            driver.ready("a")
            guard case .failed? = driver.answers[upgrade.ticket] else { Issue.record("\(String(describing: driver.answers[upgrade.ticket]))"); return }
        }

        @Test func upgradesAreRefusedForNodesAndWhatIsNotRunning() {
            var driver = bootedDriver(root([worker("a"), node("n", [worker("b")])]))
            #expect(driver.request(.upgrade(driver.id("n"), executable: nil)).answer == .refused(.notAWorker("n")))
            driver.request(.stop(driver.id("a")))
            driver.die("a")
            #expect(driver.request(.upgrade(driver.id("a"), executable: nil)).answer == .refused(.heldStopped("a")))
        }
    }
}
