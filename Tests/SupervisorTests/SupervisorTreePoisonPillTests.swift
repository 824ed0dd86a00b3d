#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

extension SupervisorTreeTests {
    /// A worker that keeps crashing on the same item gets it as a poison pill at its next spawn.
    @Suite struct PoisonPills {
        static let abort = Supervisor.ExitStatus.signaled(signal: SIGABRT, coreDumped: true)

        /// One worker `t` under a root that tolerates many restarts.
        static func driver(poisonPillCrashes: Int = 3, watchdog: Duration? = nil) -> TreeDriver {
            bootedDriver(root(intensity: 20, period: .seconds(600),
                              [worker("t", watchdog: watchdog, poisonPillCrashes: poisonPillCrashes)]))
        }

        /// `t` reports `item`, crashes with `status`, and is restarted (its backoff waited out, the
        /// new incarnation ready).
        static func crash(_ driver: inout TreeDriver, on item: String?, _ status: Supervisor.ExitStatus = abort) {
            if let item { driver.working("t", item) }
            driver.exit("t", status)
            driver.readyAll()
            while driver.state("t") != "running" {
                driver.advance(by: .milliseconds(100))
                driver.readyAll()
            }
        }

        static func pills(_ driver: TreeDriver) -> [TreeNotice] {
            driver.notices.filter { if case .poisonPill = $0 { true } else { false } }
        }

        @Test func theSameItemCrashingNTimesIsHandedToTheNextSpawns() {
            var driver = Self.driver()
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill == nil)
            #expect(Self.pills(driver).isEmpty)
            Self.crash(&driver, on: "batch 17", .exited(code: 3))
            #expect(driver.instance("t") == "t#4")
            #expect(driver.context("t")?.poisonPill == PoisonPill(
                item: "batch 17", crashes: 3, causes: ["killed by SIGABRT (core dumped)", "exited with status 3"]))
            #expect(Self.pills(driver) == [.poisonPill(worker: "t", item: "batch 17", crashes: 3)])
            // Told, it works on the same item again (setting it aside), and crashes anyway: still told.
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill?.crashes == 4)
            // Another item ends it.
            driver.working("t", "batch 18")
            Self.crash(&driver, on: nil)
            #expect(driver.context("t")?.poisonPill == nil)
        }

        @Test func aDifferentItemStartsTheCountOver() {
            var driver = Self.driver()
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: "batch 18")
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill == nil)
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill?.item == "batch 17")
        }

        @Test func reportingIdleStartsTheCountOver() {
            var driver = Self.driver()
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: "batch 17")
            driver.working("t", "")
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill == nil)
        }

        @Test func crashesWithoutAnItemNeitherCountNorReset() {
            var driver = Self.driver()
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: nil)            // a new incarnation has no item until it says so
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill == nil)
            Self.crash(&driver, on: "batch 17")
            #expect(driver.context("t")?.poisonPill?.crashes == 3)
        }

        @Test func finishingTheItemBeforeACrashDoesNotCount() {
            var driver = Self.driver(poisonPillCrashes: 1)
            driver.working("t", "batch 17")
            driver.working("t", "")
            Self.crash(&driver, on: nil)
            #expect(driver.context("t")?.poisonPill == nil)
        }

        @Test func normalExitsAndOperatorRestartsDoNotCount() {
            var driver = Self.driver(poisonPillCrashes: 1)
            Self.crash(&driver, on: "batch 17", .exited(code: 0))
            #expect(driver.context("t")?.poisonPill == nil)
            driver.working("t", "batch 17")
            driver.request(.restart(driver.id("t")))
            driver.die("t")                         // SIGTERM: the plan's stop, not a crash
            driver.readyAll()
            #expect(driver.instance("t") == "t#3")
            #expect(driver.context("t")?.poisonPill == nil)
        }

        @Test func zeroTurnsItOff() {
            var driver = Self.driver(poisonPillCrashes: 0)
            for _ in 0..<5 { Self.crash(&driver, on: "batch 17") }
            #expect(driver.context("t")?.poisonPill == nil)
            #expect(Self.pills(driver).isEmpty)
        }

        @Test func aWatchdogKillCountsAsACrash() {
            var driver = Self.driver(poisonPillCrashes: 1, watchdog: .seconds(1))
            driver.working("t", "batch 17")
            driver.advance(by: .seconds(2))         // silent: the watchdog kills it
            driver.die("t")
            driver.readyAll()
            #expect(driver.context("t")?.poisonPill?.causes == ["hung (killed by the watchdog)"])
        }

        @Test func theRestartNoticeNamesTheItem() {
            var driver = Self.driver()
            Self.crash(&driver, on: "batch 17")
            Self.crash(&driver, on: nil)
            let items = driver.notices.compactMap { notice -> String?? in
                if case .restartScheduled(_, _, _, let item) = notice { return item }
                return nil
            }
            #expect(items == ["batch 17", nil])
        }

        @Test func aStaleWorkingReportIsIgnored() {
            var driver = Self.driver(poisonPillCrashes: 1)
            let old = driver.pid("t")
            Self.crash(&driver, on: nil)
            driver.send(.working(driver.id("t"), pid: old, item: "batch 17"))
            Self.crash(&driver, on: nil)
            #expect(driver.context("t")?.poisonPill == nil)
        }

        // MARK: Evidence

        @Test func evidenceIsOneLineNamingCrashesCausesAndLastOutput() {
            let pill = PoisonPill(item: "batch 17", crashes: 3,
                                  causes: ["killed by SIGABRT (core dumped)", "exited with status 3"])
            #expect(pill.evidence(lastOutput: ["loading batch 17", "bad\u{0}value\nhere"])
                == "3 consecutive crashes on batch 17: killed by SIGABRT (core dumped) / exited with status 3; "
                + "last output: loading batch 17 | bad value here")
            #expect(PoisonPill(item: "x", crashes: 1, causes: []).evidence(lastOutput: [])
                == "1 consecutive crash on x; no output")
        }

        @Test func evidenceKeepsTheEndOfALongOutput() {
            let pill = PoisonPill(item: "b", crashes: 3, causes: ["killed by SIGSEGV"])
            let lines = (0..<5).map { "line \($0) " + String(repeating: "é", count: 600) }
            let evidence = pill.evidence(lastOutput: lines)
            let output = String(evidence.split(separator: "; last output: ", maxSplits: 1)[1])
            #expect(output.utf8.count <= PoisonPill.maxOutputBytes)
            #expect(output.utf8.count >= PoisonPill.maxOutputBytes - 4)
            #expect(output.hasPrefix("…"))
            #expect(output.hasSuffix(lines[4]))
        }

        @Test func exitCausesAreDescribed() {
            #expect(PoisonPill.cause(of: .signaled(signal: SIGSEGV, coreDumped: false)) == "killed by SIGSEGV")
            #expect(PoisonPill.cause(of: Self.abort) == "killed by SIGABRT (core dumped)")
            #expect(PoisonPill.cause(of: .exited(code: 3)) == "exited with status 3")
        }
    }
}
