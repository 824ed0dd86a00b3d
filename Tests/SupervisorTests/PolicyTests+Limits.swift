import Supervisor
import Testing

/// The parser's limits (issue 10): a policy too deep or too big is refused with one located line
/// instead of overflowing a stack (the TOML parser's, the decoder's or the engine's).
extension PolicyTests {
    @Suite struct Limits {
        /// `[supervisor]` → n0 → n1 → … → n(depth-1) → worker w, each node in a table of its own.
        static func nested(_ depth: Int) -> String {
            var text = "[supervisor]\nchildren = [\"n0\"]\n"
            for level in 0..<depth {
                let child = level + 1 < depth ? "n\(level + 1)" : "w"
                text += "\n[nodes.n\(level)]\nchildren = [\"\(child)\"]\n"
            }
            return text + "\n[workers.w]\nrole = \"test\"\n"
        }

        /// `count` test workers under the root.
        static func wide(_ count: Int) -> String {
            let names = (0..<count).map { "w\($0)" }
            return "[supervisor]\nchildren = [\(names.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
                + names.map { "[workers.\($0)]\nrole = \"test\"\n" }.joined()
        }

        @Test func thousandsOfNestedNodesAreRefusedByCountWithOneLine() {
            // Lines: 2 of [supervisor], then 3 per node: [nodes.n256] is on line 3 + 256 * 3 + 1.
            #expect(PolicyFixture.rejection(Self.nested(3500))
                == "p.toml:772: nodes.n256: 3501 nodes and workers; a tree holds at most 256 (each worker is a process and descriptors of the root)")
        }

        @Test func nodesNestedDeeperThanSixteenLevelsAreRefused() throws {
            #expect(PolicyFixture.rejection(Self.nested(17))
                == "p.toml:50: nodes.n15.children: \"n16\" would be a node 17 levels below [supervisor] (cidp -> n0 -> n1 -> n2 -> n3 "
                    + "-> n4 -> n5 -> n6 -> n7 -> n8 -> n9 -> n10 -> n11 -> n12 -> n13 -> n14 -> n15 -> n16); nodes nest at most 16 levels")
            let deepest = try PolicyFixture.parse(Self.nested(16))
            #expect(deepest.root.workers.map(\.name) == ["w"])
        }

        @Test func atMost256NodesAndWorkers() throws {
            #expect(try PolicyFixture.parse(Self.wide(256)).root.workers.count == 256)
            #expect(PolicyFixture.rejection(Self.wide(257))
                == "p.toml:515: workers.w256: 257 nodes and workers; a tree holds at most 256 (each worker is a process and descriptors of the root)")
        }

        /// The TOML parser recurses per level of a key: these crashed `cidp up` with SIGSEGV.
        @Test(arguments: [
            ("a table header", "[nodes." + Array(repeating: "x", count: 100_000).joined(separator: ".") + "]\n",
             #"p.toml:6: a key nested 100001 levels deep ("nodes.x.x.x.x.x.x.x.x"…); a policy's keys nest at most 8 levels (workers.NAME.backoff.initial_ms has 4)"#),
            ("a dotted key", Array(repeating: "x", count: 100_000).joined(separator: ".") + " = 1\n",
             #"p.toml:6: a key nested 100002 levels deep ("workers.a.x.x.x.x.x.x.x"…); a policy's keys nest at most 8 levels (workers.NAME.backoff.initial_ms has 4)"#),
            ("inline tables", "x = " + String(repeating: "{a=", count: 100_000) + "1" + String(repeating: "}", count: 100_000) + "\n",
             #"p.toml:6: a key nested 100003 levels deep ("workers.a.x.a.a.a.a.a.a"…); a policy's keys nest at most 8 levels (workers.NAME.backoff.initial_ms has 4)"#),
            ("a dotted key in an array", "x = [{" + Array(repeating: "a", count: 100_000).joined(separator: ".") + " = 1}]\n",
             "p.toml:6: a key nested 100004 levels deep; a policy's keys nest at most 8 levels (workers.NAME.backoff.initial_ms has 4)"),
        ])
        func keysThousandsOfLevelsDeepAreRefusedBeforeTheTOMLParser(_ kind: String, _ tail: String, _ expected: String) {
            #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\n" + tail) == expected, "\(kind)")
        }

        @Test func theDeepestValidKeysPass() throws {
            let inline = try PolicyFixture.parse(PolicyFixture.minimal + """

                env = { A = "1" }
                backoff = { initial_ms = 5, max_ms = 50 }
                """)
            #expect(inline.root.workers.first?.backoff.initial == .milliseconds(5))
            let dotted = try PolicyFixture.parse("""
                supervisor.children = ["a"]
                workers.a.role = "test"
                workers.a.backoff.jitter = 0.5
                """)
            #expect(dotted.root.workers.first?.backoff.jitter == 0.5)
        }
    }
}
