#if canImport(Glibc)
@testable import cidp
import Glibc
#endif
import Testing
@testable import Supervisor

extension SupervisorTreeTests {
    /// An integrity gate halts its chain (`.halted`), an operator resumes it (`cidp resume`).
    @Suite struct Halts {
        static let reason = "batch 17: checksum mismatch in 3 records"

        /// The tree of DESIGN.md, every worker ready.
        static func design(haltEndsRun: Bool = false) -> TreeDriver {
            var driver = TreeDriver(root([
                worker("sim"),
                node("etl", .restForOne, intensity: 5, [worker("extractor"), worker("transformer"), worker("loader")]),
                node("ml", [worker("trainer")]),
            ]), haltEndsRun: haltEndsRun)
            driver.boot()
            driver.readyAll()
            _ = driver.takeTrace()
            return driver
        }

        /// Halts the chain at the transformer and lets the stop plan run to its end.
        static func halted() -> TreeDriver {
            var driver = design()
            driver.halt("transformer", reason)
            driver.die("loader")
            driver.die("transformer")
            driver.die("extractor")
            _ = driver.takeTrace()
            return driver
        }

        static func isRestartNotice(_ notice: TreeNotice) -> Bool {
            if case .restartScheduled = notice { return true }
            return false
        }

        @Test func haltStopsEveryChildOfTheNodeInReverseOrderAndNothingRestarts() {
            var driver = Self.design()
            driver.halt("transformer", Self.reason)
            #expect(driver.takeTrace() == ["SIGTERM loader#1"])
            driver.die("loader")
            #expect(driver.takeTrace() == ["SIGTERM transformer#1"])
            driver.die("transformer")
            #expect(driver.takeTrace() == ["SIGTERM extractor#1"])
            driver.die("extractor")
            driver.advance(by: .seconds(600))
            #expect(driver.takeTrace() == [])
            for name in ["etl", "extractor", "transformer", "loader"] {
                #expect(driver.state(name) == "halted", "\(name)")
                #expect(driver.entry(name)?.reason == Self.reason, "\(name)")
                #expect(driver.entry(name)?.haltedBy == "transformer", "\(name)")
                #expect(driver.entry(name)?.pid == nil, "\(name)")
            }
            #expect(driver.notices.contains(.halted(node: "etl", worker: "transformer", reason: Self.reason)))
            #expect(!driver.notices.contains(where: Self.isRestartNotice))
            #expect(driver.tree.node(driver.id("etl")).intensity.count == 0)
            #expect(driver.tree.node(SupervisorTree.rootID).intensity.count == 0)
            #expect(driver.instance("sim") == "sim#1")
            #expect(driver.instance("trainer") == "trainer#1")
            #expect(driver.state("root") == "running")
            #expect(driver.tree.haltedElements == [driver.id("etl")])
        }

        @Test func theNodeIsHaltedAtOnceAndItsWorkersAsTheyGoDown() {
            var driver = Self.design()
            driver.halt("transformer", Self.reason)
            #expect(driver.state("etl") == "halted")
            #expect(driver.state("loader") == "stopping")
            #expect(driver.state("extractor") == "running")
            driver.die("loader")
            #expect(driver.state("loader") == "halted")
        }

        @Test func aCrashElsewhereStillRestarts() {
            var driver = Self.halted()
            driver.crash("trainer")
            driver.crash("sim")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn trainer#2", "spawn sim#2"])
            #expect(driver.state("etl") == "halted")
        }

        @Test func aChildThatCrashesWhileTheHaltStopsItsSiblingsIsNotRestarted() {
            var driver = Self.design()
            driver.halt("transformer", Self.reason)
            driver.crash("extractor")
            driver.die("loader")
            driver.die("transformer")
            #expect(driver.takeTrace() == ["SIGTERM loader#1", "SIGTERM transformer#1"])
            #expect(["extractor", "transformer", "loader"].map { driver.state($0) } == ["halted", "halted", "halted"])
            #expect(!driver.notices.contains(where: Self.isRestartNotice))
        }

        @Test func aSecondHaltAndAStaleOneAreIgnored() {
            var driver = Self.design()
            let stale = driver.pid("loader")
            driver.halt("transformer", Self.reason)
            driver.halt("extractor", "another gate")
            driver.send(.halted(driver.id("loader"), pid: stale + 1000, reason: "stale"))
            #expect(driver.takeTrace() == ["SIGTERM loader#1"])
            #expect(driver.entry("etl")?.haltedBy == "transformer")
            #expect(driver.notices.filter { if case .halted = $0 { true } else { false } }.count == 1)
        }

        @Test func theReasonIsKeptAsSentOfBoundedLengthAndShownOnOneLine() {
            var driver = Self.design()
            driver.halt("transformer", "line one\nline two\t" + String(repeating: "x", count: 5000))
            let reason = driver.entry("etl")?.reason ?? ""
            #expect(reason.hasPrefix("line one\nline two\txxx"))
            // The table shows it escaped (OperatorText): one line, the control characters visible.
            let table = StatusTree(driver.tree.snapshot(now: driver.now)).renderTable()
            #expect(table.contains(#"halted by transformer: line one\nline two\txxx"#), "\(table)")
            #expect(table.split(separator: "\n").count == 9, "\(table)")
            #expect(reason.count == SupervisorTree.maxReasonLength)
            #expect(reason.hasSuffix("x…"))
        }

        @Test func aHaltEndsTheRunWhenAskedTo() {
            var driver = Self.design(haltEndsRun: true)
            driver.halt("transformer", Self.reason)
            #expect(driver.takeTrace() == ["SIGTERM loader#1", "SIGTERM trainer#1"])
            for name in ["trainer", "loader", "transformer", "extractor", "sim"] { driver.die(name) }
            #expect(driver.takeTrace() == ["SIGTERM transformer#1", "SIGTERM extractor#1", "SIGTERM sim#1", "finished 1"])
            #expect(driver.finished?.exitCode == 1)
            #expect(driver.finished?.message == "etl halted by transformer: \(Self.reason)")
        }

        @Test func resumeStartsTheChildrenAgainInOrderEachToldItResumes() {
            var driver = Self.halted()
            driver.resume("etl")
            #expect(driver.takeTrace() == ["spawn extractor#2"])
            #expect(driver.state("etl") == "starting")
            driver.ready("extractor")
            #expect(driver.takeTrace() == ["spawn transformer#2"])
            driver.ready("transformer")
            #expect(driver.takeTrace() == ["spawn loader#2"])
            driver.ready("loader")
            for name in ["extractor", "transformer", "loader"] {
                #expect(driver.context(name) == SpawnContext(isResumed: true), "\(name)")
                #expect(driver.state(name) == "running", "\(name)")
            }
            #expect(driver.state("etl") == "running")
            #expect(driver.entry("etl")?.haltedBy == nil)
            #expect(driver.notices.contains(.resumed(node: "etl")))
            #expect(driver.tree.resumeProgress(of: driver.id("etl")) == .running)
            #expect(driver.tree.haltedElements.isEmpty)
            // The flag was for that start only.
            driver.crash("loader")
            #expect(driver.takeTrace() == ["spawn loader#3"])
            #expect(driver.context("loader") == SpawnContext())
        }

        @Test func aResumeDuringTheHaltWaitsForTheChildrenToGoDown() throws {
            var driver = Self.design()
            driver.halt("transformer", Self.reason)
            driver.resume("etl")
            #expect(driver.tree.resumeProgress(of: driver.id("etl")) == .underWay)
            driver.die("loader")
            driver.die("transformer")
            #expect(driver.takeTrace() == ["SIGTERM loader#1", "SIGTERM transformer#1", "SIGTERM extractor#1"])
            driver.die("extractor")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn extractor#2", "spawn transformer#2", "spawn loader#2"])
            #expect(driver.state("etl") == "running")
        }

        @Test func resumeIsRefusedWhenNotHalted() throws {
            var driver = Self.design()
            #expect(driver.tree.haltedElements.isEmpty)
            #expect(driver.request(.resume(driver.id("etl"))).answer == .refused(.notHalted("etl")))
            #expect(driver.request(.resume(driver.id("loader"))).answer == .refused(.notHalted("loader")))
            #expect(driver.request(.resume(nil)).answer == .refused(.nothingHalted))
            #expect(OperatorRefusal.notHalted("etl").description == "'etl' is not halted")
            driver = Self.halted()
            driver.shutdown()
            #expect(driver.request(.resume(driver.id("etl"))).answer == .refused(.shuttingDown))
        }

        @Test func resumingAWorkerOfAHaltedNodePointsToTheNode() {
            var driver = Self.halted()
            #expect(driver.request(.resume(driver.id("loader"))).answer == .refused(.insideHaltedNode(child: "loader", node: "etl")))
            #expect(OperatorRefusal.insideHaltedNode(child: "loader", node: "etl").description
                == "'loader' is in halted node 'etl'; use 'cidp resume etl'")
        }

        @Test func restartIsRefusedInAHaltedNode() {
            var driver = Self.halted()
            #expect(driver.request(.restart(driver.id("loader"))).answer == .refused(.nodeHalted("etl")))
            #expect(driver.request(.restart(driver.id("etl"))).answer == .refused(.nodeHalted("etl")))
            #expect(OperatorRefusal.nodeHalted("etl").description == "node etl is halted; use 'cidp resume etl'")
        }

        @Test func aWorkerDirectlyUnderTheRootHaltsAlone() {
            var driver = bootedDriver(root([worker("a"), worker("b"), worker("c")]))
            driver.halt("b", "gate")
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            driver.die("b")
            driver.advance(by: .seconds(60))
            #expect(driver.takeTrace() == [])
            #expect(driver.state("b") == "halted")
            #expect(driver.entry("b")?.reason == "gate")
            #expect(driver.state("root") == "running")
            #expect(driver.notices.contains(.halted(node: "root", worker: "b", reason: "gate")))
            #expect(driver.request(.restart(driver.id("b"))).answer == .refused(.halted("b")))
            driver.resume("b")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn b#2"])
            #expect(driver.context("b")?.isResumed == true)
            #expect(driver.state("b") == "running")
            #expect(driver.instance("a") == "a#1" && driver.instance("c") == "c#1")
        }

        @Test func aHaltedNodeIsNotRestartedByItsParentsStrategy() {
            var driver = bootedDriver(root(.oneForAll, intensity: 5, [worker("sim"), node("etl", [worker("x"), worker("y")])]))
            driver.halt("y", "gate")
            driver.die("y")
            driver.die("x")
            _ = driver.takeTrace()
            driver.crash("sim")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn sim#2"])
            #expect(driver.state("etl") == "halted")
            #expect(driver.state("x") == "halted")
        }

        @Test func aHaltDuringBootLetsTheRestOfTheTreeStart() {
            var driver = TreeDriver(root([
                node("etl", .restForOne, [worker("extractor"), worker("transformer"), worker("loader")]),
                node("ml", [worker("trainer")]),
            ]))
            driver.boot()
            driver.ready("extractor")
            driver.halt("transformer", "gate")      // still starting: its checkpoint is poisoned
            driver.die("transformer")
            driver.die("extractor")
            driver.readyAll()
            #expect(driver.takeTrace() == ["spawn extractor#1", "spawn transformer#1", "SIGTERM transformer#1",
                                           "SIGTERM extractor#1", "spawn trainer#1"])
            #expect(driver.state("loader") == "halted")
            #expect(driver.state("root") == "running")
            #expect(driver.notices.contains { if case .treeReady = $0 { true } else { false } })
        }

        @Test func aShutdownStopsAHaltedNodeWithoutStartingIt() {
            var driver = Self.halted()
            driver.shutdown()
            driver.die("trainer")
            driver.die("sim")
            #expect(driver.takeTrace() == ["SIGTERM trainer#1", "SIGTERM sim#1", "finished 0"])
        }

        @Test func aNestedNodeInsideAHaltedNodeIsHaltedWithIt() {
            var driver = bootedDriver(root([node("etl", [worker("x"), node("inner", [worker("z")])])]))
            driver.halt("x", "gate")
            driver.die("z")
            driver.die("x")
            #expect(driver.state("inner") == "halted")
            #expect(driver.state("z") == "halted")
            #expect(driver.entry("z")?.haltedBy == "x")
            driver.resume("etl")
            driver.readyAll()
            #expect(driver.state("z") == "running")
            #expect(driver.context("z")?.isResumed == true)
        }
    }
}

extension SupervisorTreeTests.Halts {
    @Test func aWorkerUnderTheRootThatHaltsEndsTheRunWhenAskedTo() {
        var driver = TreeDriver(root([worker("a"), worker("b")]), haltEndsRun: true)
        driver.boot()
        driver.readyAll()
        _ = driver.takeTrace()
        driver.halt("a", "gate")
        #expect(driver.takeTrace() == ["SIGTERM a#1", "SIGTERM b#1"])
        driver.die("b")
        #expect(driver.takeTrace() == [])       // the root waits for a
        driver.die("a")
        #expect(driver.takeTrace() == ["finished 1"])
        #expect(driver.finished?.message == "root halted by a: gate")
    }
}
