#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Supervisor

/// `cidp reload` in the engine: only the difference is applied; what cannot be applied live is
/// refused with nothing changed.
extension SupervisorTreeTests {
    @Suite struct Reloads {
        static func chain(_ transformer: TreeSpec = worker("transformer"), extra: [TreeSpec] = [],
                          etlIntensity: Int = 3) -> NodeSpec {
            root([worker("sim")] + extra + [node("etl", .restForOne, intensity: etlIntensity,
                                                 [worker("extractor"), transformer, worker("loader")])])
        }

        /// `worker(name)` with other arguments.
        static func changed(_ name: String, args: [String]) -> TreeSpec {
            guard case .worker(var spec) = SupervisorTests.worker(name) else { fatalError() }
            spec.arguments += args
            return .worker(spec)
        }

        @Test func theSamePolicyChangesNothingAndIsDoneAtOnce() throws {
            var driver = bootedDriver(Self.chain())
            let pids = ["sim", "extractor", "transformer", "loader"].map { driver.pid($0) }
            #expect(try driver.tree.reloadPlan(for: Self.chain()).isEmpty)
            let reload = driver.request(.reload(Self.chain()))
            #expect(driver.answers[reload.ticket] == .done("reloaded: nothing changed"))
            #expect(driver.takeTrace() == [])
            #expect(["sim", "extractor", "transformer", "loader"].map { driver.pid($0) } == pids)
        }

        @Test func aWorkerWhoseArgsChangedIsRestartedAloneEvenInARestForOneChain() throws {
            var driver = bootedDriver(Self.chain())
            let new = Self.chain(Self.changed("transformer", args: ["--window", "5"]))
            let plan = try driver.tree.reloadPlan(for: new)
            #expect(plan.changes == [.restart("transformer", fields: ["settings"])])
            #expect(plan.text == "restart 'transformer' with its new settings")
            let reload = driver.request(.reload(new))
            #expect(driver.takeTrace() == ["SIGTERM transformer#1"])
            driver.die("transformer")
            #expect(driver.takeTrace() == ["spawn transformer#2"])
            #expect(driver.answers[reload.ticket] == nil)
            driver.ready("transformer")
            #expect(driver.answers[reload.ticket] == .done("reloaded: restart 'transformer' with its new settings"))
            #expect(driver.instance("extractor") == "extractor#1" && driver.instance("loader") == "loader#1")
            #expect(driver.tree.workerSpec(driver.id("transformer")).arguments.suffix(2) == ["--window", "5"])
            // Not a failure: nothing counted against the chain's intensity.
            #expect(driver.entry("transformer")?.restarts == 1)
        }

        @Test func aWorkerAddedStartsInItsPlaceAndOneRemovedStopsAndIsGone() throws {
            var driver = bootedDriver(root([worker("a"), worker("b"), worker("c")]))
            let new = root([worker("a"), worker("n"), worker("c")])
            #expect(try driver.tree.reloadPlan(for: new).text
                        == "remove worker 'b' from 'root'; add worker 'n' to 'root'")
            let reload = driver.request(.reload(new))
            #expect(driver.takeTrace() == ["SIGTERM b#1"])
            driver.die(instance: "b#1")
            #expect(driver.takeTrace() == ["spawn n#1"])
            driver.ready("n")
            #expect(driver.answers[reload.ticket] != nil)
            #expect(driver.tree.snapshot(now: .zero).children.map(\.name) == ["a", "n", "c"])
            #expect(driver.tree.elementID(named: "b") == nil)
            // A name removed may come back in a later reload, as a new worker (the driver numbers
            // instances by name: the second 'b').
            let again = driver.request(.reload(root([worker("a"), worker("b"), worker("n"), worker("c")])))
            #expect(driver.takeTrace() == ["spawn b#2"])
            driver.ready("b")
            #expect(driver.answers[again.ticket] != nil)
            #expect(driver.state("b") == "running")
        }

        @Test func aNodeTakesItsNewIntensityWithoutRestartingItsChildren() throws {
            var driver = bootedDriver(Self.chain(etlIntensity: 3))
            let new = Self.chain(etlIntensity: 0)
            #expect(try driver.tree.reloadPlan(for: new).changes == [.retune("etl", fields: ["intensity"])])
            let reload = driver.request(.reload(new))
            #expect(driver.takeTrace() == [])
            #expect(driver.answers[reload.ticket] != nil)
            // Intensity 0 now: the first crash in the chain makes it give up.
            driver.crash("loader")
            #expect(driver.takeTrace().contains("SIGTERM transformer#1"))
        }

        /// `worker(name)` reading the output of `input`.
        static func piped(_ name: String, from input: String?) -> TreeSpec {
            guard case .worker(var spec) = SupervisorTests.worker(name) else { fatalError() }
            spec.input = input
            return .worker(spec)
        }

        static func wiredChain(_ stages: [TreeSpec], before: [TreeSpec] = [worker("sim"), worker("probe")]) -> NodeSpec {
            root(before + [node("etl", .restForOne, stages)])
        }

        static let stages = [piped("extractor", from: nil), Self.piped("transformer", from: "extractor"), Self.piped("loader", from: "transformer")]

        @Test func changesThatCannotBeAppliedLiveAreRefusedWithNothingChanged() throws {
            var driver = bootedDriver(Self.wiredChain(Self.stages))
            let names = driver.tree.names
            let rewired = Self.wiredChain([Self.piped("extractor", from: nil), Self.piped("filter", from: "extractor"),
                                           Self.piped("transformer", from: "filter"), Self.piped("loader", from: "transformer")])
            let dropped = Self.wiredChain([Self.piped("extractor", from: nil), Self.piped("loader", from: "extractor")])
            let order = Self.wiredChain(Self.stages, before: [worker("probe"), worker("sim")])
            let moved = root([worker("sim"), node("etl", .restForOne, Self.stages + [worker("probe")])])
            let kind = Self.wiredChain(Self.stages, before: [worker("sim"), node("probe", [worker("p1")])])
            let cases: [(NodeSpec, String)] = [
                (rewired, "the data channel wiring of 'filter' would change"),
                (dropped, "the data channel wiring of 'loader' would change"),
                (order, "the order of the children of 'root' would change"),
                (moved, "'probe' would move from 'root' to 'etl'"),
                (kind, "'probe' would change from a worker to a node"),
            ]
            for (spec, reason) in cases {
                let answer = driver.request(.reload(spec)).answer
                guard case .refused(.cannotReload(let why)) = answer else {
                    Issue.record("not refused: \(String(describing: answer))")
                    continue
                }
                #expect(why.contains(reason), "\(why)")
            }
            #expect(driver.takeTrace() == [])
            #expect(driver.tree.names == names)
            // A worker with no channel may still come and go beside the chain.
            let extra = Self.wiredChain(Self.stages, before: [worker("sim"), worker("probe"), worker("more")])
            #expect(try driver.tree.reloadPlan(for: extra).changes == [.add("more", kind: .worker, node: "root")])
        }

        @Test func aHeldWorkerTakesItsNewSpecWithoutStarting() throws {
            var driver = bootedDriver(root([worker("a"), worker("b")]))
            driver.request(.stop(driver.id("b")))
            driver.die("b")
            _ = driver.takeTrace()
            let new = root([worker("a"), Self.changed("b", args: ["--new"])])
            #expect(try driver.tree.reloadPlan(for: new).changes == [.respec("b", fields: ["settings"])])
            let reload = driver.request(.reload(new))
            #expect(driver.takeTrace() == [])
            #expect(driver.answers[reload.ticket] != nil)
            #expect(driver.state("b") == "stopped")
            driver.request(.start(driver.id("b")))
            #expect(driver.takeTrace() == ["spawn b#2"])
            #expect(driver.tree.workerSpec(driver.id("b")).arguments.last == "--new")
        }
    }
}
