import Foundation
import Testing
@testable import Supervisor

/// The tree state a re-executed root takes over (`RootHandover`): encoded and decoded between two
/// events, the tree goes on exactly as the one that never left — mid-upgrade, with a request
/// waiting for its answer, a restart's intensity history and a halt held.
extension SupervisorTreeTests {
    @Suite struct Handover {
        static func roundTripped(_ tree: SupervisorTree) throws -> SupervisorTree {
            try JSONDecoder().decode(SupervisorTree.self, from: JSONEncoder().encode(tree))
        }

        @Test func aTreeMidUpgradeGoesOnAsIfItHadNotMoved() throws {
            var stayed = bootedDriver(root(intensity: 1, [node("etl", .restForOne, [worker("extractor"), worker("transformer"),
                                                                                    worker("loader")])]))
            // An upgrade under way: the transformer is stopping, the request waits for its answer.
            let upgrade = stayed.request(.upgrade(stayed.id("transformer"), executable: "/opt/cidp-2/cidp"))
            #expect(stayed.takeTrace() == ["SIGTERM transformer#1"])

            var moved = stayed
            moved.tree = try Self.roundTripped(stayed.tree)
            #expect(moved.tree.snapshot(now: moved.now) == stayed.tree.snapshot(now: stayed.now))

            func carryOn(_ driver: inout TreeDriver) -> [String] {
                driver.die("transformer")
                driver.send(.ready(driver.id("transformer"), pid: driver.pid("transformer"), build: "0.12.0+new"))
                // Two crashes within the period: intensity 1 exceeded at the second.
                driver.die("loader")
                driver.advance(by: .seconds(2))
                driver.send(.ready(driver.id("loader"), pid: driver.pid("loader"), build: nil))
                driver.die("loader")
                driver.advance(by: .seconds(2))
                return driver.takeTrace()
            }
            let stayedTrace = carryOn(&stayed)
            let movedTrace = carryOn(&moved)
            #expect(movedTrace == stayedTrace)
            #expect(stayedTrace.count >= 3, "\(stayedTrace)")
            #expect(moved.answers[upgrade.ticket] == stayed.answers[upgrade.ticket])
            #expect(moved.answers[upgrade.ticket] != nil)
            #expect(moved.tree.snapshot(now: moved.now) == stayed.tree.snapshot(now: stayed.now))
        }
    }
}
