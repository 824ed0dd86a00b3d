#if canImport(Glibc)
@testable import cidp
import Glibc
#endif
import Testing
@testable import Supervisor

/// A capped backoff wider than the period must not let a crash loop escape the intensity; a
/// job ends with a truthful exit code; a service may keep a branch retrying, in view.
extension SupervisorTreeTests {
    @Suite struct GiveUp {
        /// Backoff far wider than the 5 s period: 10 s, then 20 s, capped at 30 s, no jitter.
        static let wideBackoff = Backoff(initial: .seconds(10), maximum: .seconds(30), multiplier: 2, jitter: 0,
                                         stablePeriod: .seconds(60))

        /// Fails `name` once it is ready again, after `runFor`; returns the restart delay the
        /// tree scheduled (from its notice), after moving the clock past it.
        static func failAfterBackoff(_ driver: inout TreeDriver, _ name: String, runFor: Duration = .milliseconds(100)) {
            driver.readyAll()
            driver.advance(by: runFor)
            let seen = driver.notices.count
            driver.exit(name, .exited(code: 1), lastError: "\(name): HTTP 404 from http://127.0.0.1:9/v1/telemetry")
            guard case .restartScheduled(_, let delay, _, _)? = driver.notices.dropFirst(seen).last(where: {
                if case .restartScheduled = $0 { return true }
                return false
            }) else { return }
            driver.advance(by: delay)
        }

        @Test func aChildFailingOnEveryStartGivesUpAlthoughItsBackoffIsWiderThanThePeriod() throws {
            var driver = bootedDriver(root(intensity: 2, period: .seconds(5), [worker("a", backoff: Self.wideBackoff)]))
            let started = driver.now
            for _ in 0..<3 where driver.finished == nil {
                Self.failAfterBackoff(&driver, "a")
            }
            // Without leaving the backoff out, restarts 10 s and 20 s apart never make 3 within 5 s.
            let finished = try #require(driver.finished, "the node retried for ever: \(driver.takeTrace())")
            #expect(finished.exitCode == 1)
            #expect(finished.message.contains("3 restarts of children of 'root'"), "\(finished.message)")
            // The bound: the first `intensity` delays (0, then 10 s) plus the three runs.
            #expect(driver.now - started <= .seconds(10) + .milliseconds(300))
        }

        @Test func theGiveUpNamesTheChildsLastErrorLine() throws {
            var driver = bootedDriver(root(intensity: 0, [worker("extractor")]))
            // Text the outside world wrote: kept as it is (JSON carries it exactly), and every text view
            // shows it escaped (OperatorText), so an escape sequence never reaches a terminal.
            driver.exit("extractor", .exited(code: 1), lastError: "  extractor: HTTP 404 from \u{1B}[31mhttp://h/v1/telemetry \n")
            let finished = try #require(driver.finished)
            #expect(finished.message.contains("'extractor' exited (exit code 1: extractor: HTTP 404 from \u{1B}[31mhttp://h/v1/telemetry)"),
                    "\(finished.message)")
            #expect(driver.entry("extractor")?.reason == "last exit code 1: extractor: HTTP 404 from \u{1B}[31mhttp://h/v1/telemetry")
            let table = StatusTree(driver.tree.snapshot(now: driver.now)).renderTable()
            #expect(table.contains(#"last exit code 1: extractor: HTTP 404 from \u001b[31mhttp://h/v1/telemetry"#), "\(table)")
            #expect(!table.contains("\u{1B}"))
        }

        @Test func aChildThatRunsBetweenCrashesIsCountedOnRunningTimeAsInOTP() {
            // A crash every 70 s with intensity 1 in 60 s never gives up, backoff or not.
            var driver = bootedDriver(root(intensity: 1, period: .seconds(60), [worker("a", backoff: Self.wideBackoff)]))
            for _ in 0..<5 {
                Self.failAfterBackoff(&driver, "a", runFor: .seconds(70))
            }
            #expect(driver.finished == nil)
            #expect(driver.state("root") == "running")
        }

        @Test func aNodeItsParentRestartsStartsItsChildrensBackoffOver() {
            var driver = bootedDriver(root(intensity: 3, period: .seconds(60), [
                node("etl", intensity: 1, period: .seconds(60), [worker("extractor", backoff: Self.wideBackoff)]),
            ]))
            driver.crash("extractor")                 // first restart: immediate
            driver.readyAll()
            driver.crash("extractor")                 // 2 > 1: etl gives up, the root restarts it
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn extractor#2", "spawn extractor#3"])
            driver.crash("extractor")                 // the new etl's first restart: immediate again
            #expect(driver.takeTrace() == ["spawn extractor#4"])
        }

        @Test func anEscalatingCrashLoopEndsTheJobWithinTheDocumentedBound() throws {
            // The default policy's shape: etl intensity 5 / 60 s under a root of intensity 3 / 60 s,
            // backoff 200 ms doubling to 30 s with 20 % jitter. Every extractor start fails.
            let backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(30), multiplier: 2, jitter: 0.2,
                                  stablePeriod: .seconds(60))
            var driver = TreeDriver(root(intensity: 3, period: .seconds(60), [
                worker("sim"),
                node("etl", .restForOne, intensity: 5, period: .seconds(60),
                     [worker("extractor", backoff: backoff), worker("loader", backoff: backoff)]),
            ]), isJob: true)
            driver.boot()
            driver.readyAll()
            var failures = 0
            while driver.finished == nil, failures < 100 {
                // Each extractor start fails 50 ms after it is ready; stops are answered at once.
                driver.readyAll()
                if let extractor = driver.tree.elementID(named: "extractor"), driver.tree.pid(of: extractor) != nil {
                    driver.advance(by: .milliseconds(50))
                    driver.exit("extractor", .exited(code: 1), lastError: "extractor: HTTP 404 from http://h/v1/telemetry")
                    failures += 1
                }
                for name in ["loader", "sim", "extractor"] {
                    if case .stopping? = driver.tree.elementID(named: name).map({ driver.tree.worker($0).phase }) { driver.die(name) }
                }
                driver.readyAll()
                if let deadline = driver.tree.nextDeadline(), deadline > driver.now { driver.advance(to: deadline) }
            }
            let finished = try #require(driver.finished)
            #expect(finished.exitCode == ExitCode.failure)
            // etl gives up after 6 failed starts; the root after 4 give-ups of etl.
            #expect(failures == 24)
            #expect(finished.message.contains("'extractor' exited (exit code 1: extractor: HTTP 404"), "\(finished.message)")
            #expect(finished.message.contains("restarts of children of 'etl'"))
            #expect(finished.message.contains("4 restarts of children of 'root'"))
            // policies/README.md: 4 × (0 + 0.2 + 0.4 + 0.8 + 1.6 s, +20 % jitter at most) plus the runs.
            #expect(driver.now <= .seconds(4 * 3.6) + .milliseconds(24 * 50 + 100))
        }

        @Test func aServiceKeepsRetryingANodeThatSaysSoShownDegradedWithTheReason() throws {
            var spec = root(intensity: 3, period: .seconds(60), [
                worker("sim"),
                node("etl", intensity: 1, period: .seconds(60), [worker("extractor", backoff: Self.wideBackoff)]),
            ])
            guard case .node(var etl) = spec.children[1] else { Issue.record("no etl"); return }
            etl.onIntensityExceeded = .keepRetrying
            spec.children[1] = .node(etl)
            var driver = TreeDriver(spec)
            driver.boot()
            driver.readyAll()
            for _ in 0..<6 { Self.failAfterBackoff(&driver, "extractor") }
            #expect(driver.finished == nil)
            #expect(driver.state("etl") == "degraded")
            let reason = try #require(driver.entry("etl")?.reason)
            #expect(reason.hasPrefix("restart intensity exceeded, retrying: 'extractor' exited (exit code 1: extractor: HTTP 404"),
                    "\(reason)")
            // Logged once, not on every restart.
            #expect(driver.notices.filter { if case .intensityExceeded = $0 { return true } else { return false } }.count == 1)
            // Once it stays up longer than the period, the node is no longer shown in trouble.
            driver.readyAll()
            driver.advance(by: .seconds(61))
            #expect(driver.state("etl") == "running")
        }

        @Test func aJobGivesUpEvenWhereThePolicyWouldKeepRetrying() throws {
            var etl = NodeSpec(name: "etl", intensity: 1, period: .seconds(60), onIntensityExceeded: .keepRetrying,
                               children: [worker("extractor", backoff: noBackoff)])
            etl.strategy = .oneForOne
            var driver = TreeDriver(root(intensity: 0, [.node(etl)]), isJob: true)
            driver.boot()
            driver.readyAll()
            driver.crash("extractor")
            driver.readyAll()
            driver.crash("extractor")
            let finished = try #require(driver.finished)
            #expect(finished.exitCode == ExitCode.failure)
        }

        @Test func aJobStoppedFromOutsideBeforeItIsDoneIsInterrupted() throws {
            var driver = TreeDriver(root([worker("loader"), worker("trainer")]), isJob: true)
            driver.boot()
            driver.readyAll()
            driver.shutdown("stopped by SIGINT")
            driver.die("trainer")
            driver.die("loader")
            let finished = try #require(driver.finished)
            #expect(finished.exitCode == ExitCode.interrupted)
            #expect(finished.message == "interrupted: stopped by SIGINT")
        }

        @Test func aJobWhoseWorkerSaysItIsDoneSucceedsEvenIfAStopFollows() throws {
            var driver = TreeDriver(root([worker("loader"), worker("trainer")]), isJob: true)
            driver.boot()
            driver.readyAll()
            driver.jobDone("trainer")
            #expect(driver.takeTrace().suffix(1) == ["SIGTERM trainer#1"])
            driver.shutdown("stopped by SIGTERM")     // too late to interrupt: the work is done
            driver.die("trainer")
            driver.die("loader")
            let finished = try #require(driver.finished)
            #expect(finished.exitCode == ExitCode.success)
        }

        @Test func aServiceStoppedFromOutsideSucceeds() throws {
            var driver = bootedDriver(root([worker("a")]))
            driver.shutdown("stopped by 'cidp stop'")
            driver.die("a")
            #expect(try #require(driver.finished).exitCode == ExitCode.success)
        }

        @Test func aHaltedJobStaysAFailureWhenItIsStoppedMeanwhile() throws {
            var driver = TreeDriver(root([worker("a"), worker("b")]), haltEndsRun: true, isJob: true)
            driver.boot()
            driver.readyAll()
            driver.halt("a", "gate 'record' quarantined batch 3")
            driver.shutdown("stopped by SIGINT")
            driver.die("b")
            driver.die("a")
            #expect(try #require(driver.finished).exitCode == ExitCode.failure)
        }
    }
}
