import Supervisor
import Testing

/// Impossible values, TOML syntax, overflow and unreadable files; and the located line of keys
/// written in dotted or inline form.
extension PolicyTests {
    @Suite struct Values {
        /// `minimal` plus lines appended to `[workers.a]` (they start at line 6).
        static func worker(_ lines: String) -> String { PolicyFixture.minimal + "\n" + lines }

        static let cases: [RejectedPolicy] = [
            RejectedPolicy(kind: "negative shutdown", text: worker("shutdown = -5"),
                expected: #"p.toml:6: workers.a.shutdown: expected a duration in milliseconds >= 0 or "brutal_kill", got -5"#),
            RejectedPolicy(kind: "misspelt brutal_kill", text: worker(#"shutdown = "brutal""#),
                expected: #"p.toml:6: workers.a.shutdown: expected a duration in milliseconds >= 0 or "brutal_kill", got string "brutal""#),
            RejectedPolicy(kind: "zero readiness timeout", text: worker("readiness_timeout_ms = 0"),
                expected: "p.toml:6: workers.a.readiness_timeout_ms: expected a timeout in milliseconds > 0, got 0"),
            RejectedPolicy(kind: "negative intensity", text: """
                [supervisor]
                intensity = -1
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: "p.toml:2: supervisor.intensity: expected a number of restarts >= 0, got -1"),
            RejectedPolicy(kind: "zero period", text: """
                [supervisor]
                period_ms = 0
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: "p.toml:2: supervisor.period_ms: expected a period in milliseconds > 0, got 0"),
            RejectedPolicy(kind: "intensity 0 with period 0", text: """
                [supervisor]
                children = ["n"]
                [nodes.n]
                intensity = 0
                period_ms = 0
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: "p.toml:5: nodes.n.period_ms: intensity = 0 with period_ms = 0 is not a restart window: "
                    + "period_ms must be > 0 (intensity = 0 already gives up at the first restart)"),
            RejectedPolicy(kind: "watchdog below 10 ms", text: worker("watchdog_ms = 5"),
                expected: "p.toml:6: workers.a.watchdog_ms: expected 0 (no watchdog) or a period in milliseconds >= 10, got 5"),
            RejectedPolicy(kind: "memory limit below 128 MiB", text: worker("memory_limit_mb = 100"),
                expected: "p.toml:6: workers.a.memory_limit_mb: expected 0 (no limit) or a limit in MiB >= 128 "
                    + "(an address-space limit; a worker maps about 80 MiB at start), got 100"),
            RejectedPolicy(kind: "memory limit overflowing bytes", text: worker("memory_limit_mb = 17592186044416"),
                expected: "p.toml:6: workers.a.memory_limit_mb: 17592186044416 MiB overflows a 64-bit byte count; "
                    + "expected at most 17592186044415"),
            RejectedPolicy(kind: "multiplier below 1", text: worker("backoff = { multiplier = 0.5 }"),
                expected: "p.toml:6: workers.a.backoff.multiplier: expected a multiplier >= 1.0, got 0.5"),
            RejectedPolicy(kind: "jitter above 1", text: worker("[workers.a.backoff]\njitter = 1.5"),
                expected: "p.toml:7: workers.a.backoff.jitter: expected a fraction between 0.0 and 1.0, got 1.5"),
            RejectedPolicy(kind: "infinite multiplier", text: worker("backoff.multiplier = inf"),
                expected: "p.toml:6: workers.a.backoff.multiplier: expected a finite number, got float inf"),
            RejectedPolicy(kind: "negative backoff delay", text: worker("backoff = { initial_ms = -1 }"),
                expected: "p.toml:6: workers.a.backoff.initial_ms: expected a delay in milliseconds >= 0, got -1"),
            RejectedPolicy(kind: "zero stable period", text: PolicyFixture.minimal + "\n[defaults.backoff]\nstable_ms = 0",
                expected: "p.toml:7: defaults.backoff.stable_ms: expected a period in milliseconds > 0, got 0"),
            RejectedPolicy(kind: "max below initial in one table", text: worker("[workers.a.backoff]\ninitial_ms = 300\nmax_ms = 200"),
                expected: "p.toml:8: workers.a.backoff.max_ms: expected max_ms >= initial_ms (300), got 200"),
            RejectedPolicy(kind: "max below initial once merged with defaults", text: """
                [supervisor]
                children = ["a"]
                [defaults.backoff]
                max_ms = 1000
                [workers.a]
                role = "test"
                backoff = { initial_ms = 2000 }
                """,
                expected: "p.toml:7: workers.a.backoff.initial_ms: expected max_ms >= initial_ms, but max_ms 1000 "
                    + "(defaults.backoff.max_ms) < initial_ms 2000 (workers.a.backoff.initial_ms)"),
            RejectedPolicy(kind: "max below the built-in initial", text: PolicyFixture.minimal + "\n[defaults.backoff]\nmax_ms = 50",
                expected: "p.toml:7: defaults.backoff.max_ms: expected max_ms >= initial_ms, but max_ms 50 "
                    + "(defaults.backoff.max_ms) < initial_ms 100 (built-in default)"),
            RejectedPolicy(kind: "log files too small", text: PolicyFixture.minimal + "\n[logging]\nmax_bytes = 100",
                expected: "p.toml:7: logging.max_bytes: expected a size in bytes >= 4096, got 100"),
            RejectedPolicy(kind: "no rotated file kept", text: PolicyFixture.minimal + "\n[logging]\nkeep = 0",
                expected: "p.toml:7: logging.keep: expected a number of rotated files >= 1, got 0"),
            RejectedPolicy(kind: "invalid worker name", text: """
                [supervisor]
                children = ["Extractor"]
                [workers.Extractor]
                role = "extractor"
                """,
                expected: #"p.toml:3: workers.Extractor: invalid name "Extractor": expected 1 to 32 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"#),
            RejectedPolicy(kind: "invalid root name", text: """
                [supervisor]
                name = "-cidp"
                children = ["a"]
                [workers.a]
                role = "test"
                """,
                expected: #"p.toml:2: supervisor.name: invalid name "-cidp": expected 1 to 32 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"#),
            RejectedPolicy(kind: "empty children", text: """
                [supervisor]
                children = ["n"]
                [nodes.n]
                children = []
                """,
                expected: "p.toml:4: nodes.n.children: expected a non-empty array of child names, got []"),
            RejectedPolicy(kind: "environment name with '='", text: worker(#"env = { "A=B" = "1" }"#),
                expected: #"p.toml:6: workers.a.env.A=B: expected an environment variable name without '=', got "A=B""#),
            RejectedPolicy(kind: "dotted keys before any table", text: """
                workers.a.role = "test"
                workers.a.watchdog_ms = 1
                [supervisor]
                children = ["a"]
                """,
                expected: "p.toml:2: workers.a.watchdog_ms: expected 0 (no watchdog) or a period in milliseconds >= 10, got 1"),
        ]

        @Test(arguments: cases)
        func isRejectedWithItsExactDescription(_ policy: RejectedPolicy) {
            #expect(PolicyFixture.rejection(policy.text) == policy.expected)
        }

        @Test func tomlSyntaxErrorCarriesTomlLineAndColumn() throws {
            let error = try #require(throws: PolicyError.self) {
                try PolicyFixture.parse("[supervisor]\nchildren = [\"a\"]\nintensity = = 3\n")
            }
            #expect(error.line == 3)
            #expect(error.keyPath == nil)
            #expect(error.description
                == "p.toml:3: invalid TOML: Error while parsing value: could not determine value type (column 13)")
        }

        @Test func integerLiteralTooLargeForTomlIsASyntaxError() {
            #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\nwatchdog_ms = 99999999999999999999")
                == "p.toml:6: invalid TOML: Error while parsing decimal integer: "
                + "'99999999999999999999' is not representable in 64 bits (column 35)")
        }

        @Test func redefinedKeyIsASyntaxError() {
            #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\nrole = \"test\"")
                == "p.toml:6: invalid TOML: Error while parsing key-value pair: cannot redefine existing string 'role' (column 8)")
        }

        @Test func nulCharacterIsRejectedBeforeParsing() {
            #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\nargs = [\"\u{0}\"]")
                == "p.toml:6: invalid TOML: NUL character in the text")
        }

        @Test func missingFileIsUnreadable() {
            let path = "/nonexistent-cidp-dir/policy.toml"
            #expect(throws: PolicyError(file: path, message: "cannot read: No such file or directory")) {
                try PolicyLoader.load(path: path, executable: PolicyFixture.executable, knownRoles: PolicyFixture.roles)
            }
        }

        @Test func directoryIsUnreadable() {
            let path = PolicyFixture.packageRoot + "/policies"
            #expect(throws: PolicyError(file: path, message: "cannot read: Is a directory")) {
                try PolicyLoader.load(path: path, executable: PolicyFixture.executable, knownRoles: PolicyFixture.roles)
            }
        }

        @Test func descriptionOmitsWhatIsUnknown() {
            #expect(PolicyError(file: "f", message: "m").description == "f: m")
            #expect(PolicyError(file: "f", line: 3, message: "m").description == "f:3: m")
            #expect(PolicyError(file: "f", keyPath: "k", message: "m").description == "f: k: m")
            #expect(PolicyError(file: "f", line: 1, keyPath: "k", message: "a\nb").description == "f:1: k: a b")
        }
    }
}
