import Supervisor
import Testing

/// `poison_pill_crashes`: consecutive crashes on one item before the worker gets it as a poison pill.
extension PolicyTests {
    @Suite struct PoisonPill {
        /// The spec of worker `name` in `policy`, wherever it is in the tree.
        static func spec(_ name: String, in text: String) throws -> ChildSpec {
            func find(_ node: NodeSpec) -> ChildSpec? {
                for child in node.children {
                    switch child {
                    case .worker(let spec) where spec.name == name: return spec
                    case .node(let inner): if let found = find(inner) { return found }
                    case .worker: continue
                    }
                }
                return nil
            }
            return try #require(find(try PolicyFixture.parse(text).root))
        }

        @Test func isThreeByDefault() throws {
            #expect(try Self.spec("a", in: PolicyFixture.minimal).poisonPillCrashes == 3)
        }

        @Test func theBuiltInDefaultIsCappedAtTheNodesIntensity() throws {
            let text = """
                [supervisor]
                intensity = 1
                children = ["a", "n"]
                [nodes.n]
                intensity = 0
                children = ["b"]
                [workers.a]
                role = "test"
                [workers.b]
                role = "test"
                """
            #expect(try Self.spec("a", in: text).poisonPillCrashes == 1)
            #expect(try Self.spec("b", in: text).poisonPillCrashes == 0)
        }

        @Test func isAcceptedFromTheWorkerAndFromDefaults() throws {
            let text = """
                [supervisor]
                intensity = 5
                children = ["a", "b", "c"]
                [defaults]
                poison_pill_crashes = 2
                [workers.a]
                role = "test"
                [workers.b]
                role = "test"
                poison_pill_crashes = 5
                [workers.c]
                role = "test"
                poison_pill_crashes = 0
                """
            #expect(try Self.spec("a", in: text).poisonPillCrashes == 2)
            #expect(try Self.spec("b", in: text).poisonPillCrashes == 5)
            #expect(try Self.spec("c", in: text).poisonPillCrashes == 0)
        }

        @Test func zeroIsAcceptedUnderAnyIntensity() throws {
            let text = """
                [supervisor]
                intensity = 0
                children = ["a"]
                [workers.a]
                role = "test"
                poison_pill_crashes = 0
                """
            #expect(try Self.spec("a", in: text).poisonPillCrashes == 0)
        }

        @Test func negativeIsRejected() {
            #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\npoison_pill_crashes = -1")
                == "p.toml:6: workers.a.poison_pill_crashes: expected 0 (off) or a number of consecutive crashes "
                + "on one item >= 1, got -1")
        }

        @Test func aStringIsRejected() {
            #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\npoison_pill_crashes = \"3\"")
                == #"p.toml:6: workers.a.poison_pill_crashes: expected an integer number of crashes, got string "3""#)
        }

        @Test func moreThanTheNodesIntensityIsRejectedWhereItIsSet() {
            let text = """
                [supervisor]
                children = ["n"]
                [nodes.n]
                intensity = 2
                children = ["a"]
                [workers.a]
                role = "test"
                poison_pill_crashes = 3
                """
            #expect(PolicyFixture.rejection(text)
                == #"p.toml:8: workers.a.poison_pill_crashes: expected 0 (off) or at most 2, the intensity of node "n" "#
                + #"that restarts worker "a" (each crash counts towards it: the node would give up before the poison "#
                + "pill is handed over), got 3")
        }

        @Test func tooHighADefaultIsBlamedOnDefaults() {
            let text = """
                [supervisor]
                intensity = 1
                children = ["a"]
                [defaults]
                poison_pill_crashes = 2
                [workers.a]
                role = "test"
                """
            #expect(PolicyFixture.rejection(text)?.hasPrefix(
                #"p.toml:5: defaults.poison_pill_crashes: expected 0 (off) or at most 1, the intensity of node "cidp" "#
                + #"that restarts worker "a""#) == true)
        }
    }
}
