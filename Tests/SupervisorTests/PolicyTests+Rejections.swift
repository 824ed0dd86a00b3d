import Supervisor
import Testing

/// Each malformed policy is rejected with exactly one located, one-line error.
extension PolicyTests {
    @Suite struct Rejections {
        static let cases: [RejectedPolicy] = [
            // 2. Unknown keys, at every level.
            RejectedPolicy(kind: "unknown top-level table", text: PolicyFixture.minimal + """

                [worker.b]
                role = "test"
                """,
                expected: #"p.toml:6: worker: unknown key "worker"; allowed keys: supervisor, logging, control, metrics, defaults, nodes, workers"#),
            RejectedPolicy(kind: "unknown key in supervisor", text: """
                [supervisor]
                intesity = 3
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.intesity: unknown key "intesity"; allowed keys: name, strategy, intensity, period_ms, intensity_exceeded, children"#),
            RejectedPolicy(kind: "unknown key in a worker", text: PolicyFixture.minimal + """

                restat = "permanent"
                """,
                expected: #"p.toml:6: workers.a.restat: unknown key "restat"; allowed keys: role, args, env, input, listen, allow_non_loopback, restart, shutdown, readiness_timeout_ms, watchdog_ms, memory_limit_mb, poison_pill_crashes, backoff"#),
            RejectedPolicy(kind: "unknown key in defaults.backoff", text: PolicyFixture.minimal + """

                [defaults.backoff]
                max_ms = 100
                initial = 5
                """,
                expected: #"p.toml:8: defaults.backoff.initial: unknown key "initial"; allowed keys: initial_ms, max_ms, multiplier, jitter, stable_ms"#),
            RejectedPolicy(kind: "unknown key in defaults (role cannot be defaulted)", text: PolicyFixture.minimal + """

                [defaults]
                role = "test"
                """,
                expected: #"p.toml:7: defaults.role: unknown key "role"; allowed keys: restart, shutdown, readiness_timeout_ms, watchdog_ms, memory_limit_mb, poison_pill_crashes, backoff"#),
            RejectedPolicy(kind: "unknown key in logging", text: PolicyFixture.minimal + """

                [logging]
                level = "info"
                """,
                expected: #"p.toml:7: logging.level: unknown key "level"; allowed keys: dir, max_bytes, keep, console_level, file_level"#),
            RejectedPolicy(kind: "unknown key in a node", text: """
                [supervisor]
                children = ["n"]
                [nodes.n]
                children = ["a"]
                name = "n"
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:5: nodes.n.name: unknown key "name"; allowed keys: strategy, intensity, period_ms, intensity_exceeded, children"#),

            // 3. Wrong types.
            RejectedPolicy(kind: "string for an integer", text: """
                [supervisor]
                intensity = "three"
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.intensity: expected an integer, got string "three""#),
            RejectedPolicy(kind: "string for children", text: """
                [supervisor]
                children = "a"
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.children: expected an array of child names, got string "a""#),
            RejectedPolicy(kind: "integer in args", text: PolicyFixture.minimal + """

                args = ["--x", 1]
                """,
                expected: "p.toml:6: workers.a.args: expected an array of strings, got integer 1 at index 1"),
            RejectedPolicy(kind: "float for milliseconds", text: PolicyFixture.minimal + """

                readiness_timeout_ms = 1.5
                """,
                expected: "p.toml:6: workers.a.readiness_timeout_ms: expected an integer number of milliseconds, got float 1.5"),
            RejectedPolicy(kind: "worker that is not a table", text: """
                [supervisor]
                children = ["a"]
                [workers]
                a = "test"
                """,
                expected: #"p.toml:4: workers.a: expected a table, got string "test""#),

            // 4–6. Unknown enumerated values.
            RejectedPolicy(kind: "unknown strategy", text: """
                [supervisor]
                strategy = "one_for_none"
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.strategy: unknown strategy "one_for_none"; expected one of: one_for_one, one_for_all, rest_for_one"#),
            RejectedPolicy(kind: "unknown intensity_exceeded", text: """
                [supervisor]
                children = ["n"]
                [nodes.n]
                intensity_exceeded = "retry"
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:4: nodes.n.intensity_exceeded: expected give_up or keep_retrying, got "retry""#),
            RejectedPolicy(kind: "unknown restart type", text: PolicyFixture.minimal + """

                restart = "always"
                """,
                expected: #"p.toml:6: workers.a.restart: unknown restart type "always"; expected one of: permanent, transient, temporary"#),
            RejectedPolicy(kind: "unknown role", text: """
                [supervisor]
                children = ["a"]
                [workers.a]
                role = "miner"
                """,
                expected: #"p.toml:4: workers.a.role: unknown role "miner"; known roles: extractor, loader, predictor, sensor-sim, test, trainer, transformer"#),
            RejectedPolicy(kind: "unknown console level", text: PolicyFixture.minimal + """

                [logging]
                console_level = "verbose"
                """,
                expected: #"p.toml:7: logging.console_level: unknown console level "verbose"; expected one of: trace, debug, info, notice, warning, error, critical"#),
            RejectedPolicy(kind: "unknown file level", text: PolicyFixture.minimal + """

                [logging]
                file_level = "everything"
                """,
                expected: #"p.toml:7: logging.file_level: unknown file level "everything"; expected one of: trace, debug, info, notice, warning, error, critical"#),
            RejectedPolicy(kind: "file level not a string", text: PolicyFixture.minimal + """

                [logging]
                console_level = "info"
                file_level = 3
                """,
                expected: #"p.toml:8: logging.file_level: expected a string, got integer 3"#),

            // 7. Duplicate names.
            RejectedPolicy(kind: "name both a node and a worker", text: """
                [supervisor]
                children = ["a"]
                [nodes.a]
                children = ["b"]
                [workers.b]
                role = "test"
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:7: workers.a: duplicate name "a": already defined as [nodes.a] (line 3)"#),
            RejectedPolicy(kind: "child listed twice", text: """
                [supervisor]
                children = ["a", "a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.children: "a" is listed twice"#),
            RejectedPolicy(kind: "child under two parents", text: """
                [supervisor]
                children = ["a", "n"]
                [nodes.n]
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:4: nodes.n.children: "a" is already listed in supervisor.children; a child has exactly one parent"#),
            RejectedPolicy(kind: "worker named like the root", text: """
                [supervisor]
                children = ["cidp"]
                [workers.cidp]
                role = "test"
                """,
                expected: #"p.toml:3: workers.cidp: duplicate name "cidp": already the name of the root [supervisor]; names are unique in the whole tree"#),

            // 8. Missing fields.
            RejectedPolicy(kind: "no [supervisor]", text: """
                [workers.a]
                role = "test"
                """,
                expected: "p.toml: supervisor: missing required table [supervisor] (the root node)"),
            RejectedPolicy(kind: "no children", text: """
                [supervisor]
                name = "x"
                """,
                expected: "p.toml:1: supervisor.children: missing required key: a non-empty array of child names, in start order"),
            RejectedPolicy(kind: "worker without role", text: """
                [supervisor]
                children = ["a"]

                [workers.a]
                args = []
                """,
                expected: "p.toml:4: workers.a.role: missing required key; known roles: extractor, loader, predictor, sensor-sim, test, trainer, transformer"),

            // 9. Tree shape.
            RejectedPolicy(kind: "child never defined", text: """
                [supervisor]
                children = ["a", "b"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.children: "b" is not defined: expected a [nodes.b] or [workers.b] table"#),
            RejectedPolicy(kind: "unreachable worker", text: PolicyFixture.minimal + """

                [workers.orphan]
                role = "test"
                """,
                expected: #"p.toml:6: workers.orphan: defined but not reachable from [supervisor]: no node lists "orphan" in its children"#),
            // Data channels between workers.
            RejectedPolicy(kind: "input from itself", text: """
                [supervisor]
                children = ["a"]
                [workers.a]
                role = "test"
                input = "a"
                """,
                expected: "p.toml:5: workers.a.input: a worker cannot take its own output as input"),
            RejectedPolicy(kind: "input from a node", text: """
                [supervisor]
                children = ["n", "a"]
                [nodes.n]
                children = ["b"]
                [workers.a]
                role = "test"
                input = "n"
                [workers.b]
                role = "test"
                """,
                expected: #"p.toml:7: workers.a.input: "n" is not a worker: expected the name of a [workers.X] table whose output feeds this worker"#),
            RejectedPolicy(kind: "two consumers of one output", text: """
                [supervisor]
                children = ["a", "b", "c"]
                [workers.a]
                role = "test"
                [workers.b]
                role = "test"
                input = "a"
                [workers.c]
                role = "test"
                input = "a"
                """,
                expected: #"p.toml:10: workers.c.input: "a" already feeds "b"; a worker has one output"#),
            RejectedPolicy(kind: "loop of channels", text: """
                [supervisor]
                children = ["a", "b"]
                [workers.a]
                role = "test"
                input = "b"
                [workers.b]
                role = "test"
                input = "a"
                """,
                expected: "p.toml:5: workers.a.input: channels form a loop: a <- b <- a"),
            RejectedPolicy(kind: "cycle of nodes", text: """
                [supervisor]
                children = ["n1"]
                [nodes.n1]
                children = ["n2"]
                [nodes.n2]
                children = ["n1"]
                """,
                expected: "p.toml:6: nodes.n2.children: cycle of nodes: n1 -> n2 -> n1"),
            RejectedPolicy(kind: "node containing itself", text: """
                [supervisor]
                children = ["n"]
                [nodes.n]
                children = ["n"]
                """,
                expected: "p.toml:4: nodes.n.children: cycle of nodes: n -> n"),
        ]

        @Test(arguments: cases)
        func isRejectedWithItsExactDescription(_ policy: RejectedPolicy) {
            #expect(PolicyFixture.rejection(policy.text) == policy.expected)
        }
    }
}
