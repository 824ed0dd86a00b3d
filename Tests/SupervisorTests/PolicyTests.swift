@testable import cidp
import PolicyRoles
import Supervisor
import Testing
import Workers

/// Valid policies map to the exact specs: built-in defaults, `[defaults]`, per-worker overrides.
@Suite struct PolicyTests {
    let exe = PolicyFixture.executable

    @Test func theFileLogHasItsOwnLevelInfoByDefault() throws {
        #expect(try PolicyFixture.parse(PolicyFixture.minimal).logging.fileLevel == "info")
        let policy = try PolicyFixture.parse(PolicyFixture.minimal + """

            [logging]
            console_level = "warning"
            file_level = "debug"
            """)
        #expect(policy.logging.fileLevel == "debug" && policy.logging.consoleLevel == "warning")
    }

    @Test func minimalPolicyGetsBuiltInDefaults() throws {
        let policy = try PolicyFixture.parse(PolicyFixture.minimal)
        let expected = Policy(
            root: NodeSpec(name: "cidp", strategy: .oneForOne, intensity: 3, period: .milliseconds(5000),
                           children: [.worker(ChildSpec(name: "a", role: "test", executable: exe))]),
            logging: LogSettings())
        #expect(policy == expected)
        // Spelled out, so a change of ChildSpec's or Backoff's init defaults cannot slip through.
        guard case .worker(let spec) = policy.root.children.first else {
            Issue.record("expected a worker")
            return
        }
        #expect(spec.restart == .permanent)
        #expect(spec.shutdown == .grace(.milliseconds(5000)))
        #expect(spec.readinessTimeout == .milliseconds(5000))
        #expect(spec.watchdog == nil)
        #expect(spec.memoryLimit == nil)
        #expect(spec.environment == [:])
        #expect(spec.poisonPillCrashes == 3)
        #expect(spec.backoff == Backoff(initial: .milliseconds(100), maximum: .milliseconds(5000), multiplier: 2,
                                        jitter: 0.2, stablePeriod: .milliseconds(10000)))
    }

    static let full = """
        # A policy that sets everything somewhere.
        [supervisor]
        name = "plant-7"
        strategy = "one_for_all"
        intensity = 0
        period_ms = 1000
        children = [
            "plain",      # [defaults] only
            "group",
        ]

        [logging]
        dir = "/var/log/cidp"
        max_bytes = 4096
        keep = 1
        console_level = "debug"

        [defaults]
        restart = "transient"
        shutdown = "brutal_kill"
        readiness_timeout_ms = 7000
        watchdog_ms = 10
        memory_limit_mb = 128

        [defaults.backoff]
        initial_ms = 50
        max_ms = 800
        multiplier = 3          # an integer is accepted
        jitter = 0
        stable_ms = 2500

        [nodes.group]
        strategy = "rest_for_one"
        intensity = 7
        period_ms = 60000
        children = ["tuned", "sub"]

        [workers.plain]
        role = "extractor"

        [workers.tuned]
        role = "loader"
        args = ["--batch", "500"]
        env = { CIDP_MODE = "fast", "with space" = "ok" }
        restart = "temporary"
        shutdown = 0
        readiness_timeout_ms = 1
        watchdog_ms = 0
        memory_limit_mb = 0
        backoff.max_ms = 900
        backoff.jitter = 1.0

        [nodes.sub]
        children = ["deep_1"]

        [workers.deep_1]
        role = "trainer"
        memory_limit_mb = 4096
        [workers.deep_1.backoff]
        initial_ms = 0
        max_ms = 0
        multiplier = 1.5
        """

    @Test func fullPolicyMapsToExactSpecs() throws {
        let policy = try PolicyFixture.parse(Self.full)
        let defaultsBackoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(800), multiplier: 3,
                                      jitter: 0, stablePeriod: .milliseconds(2500))
        let plain = ChildSpec(name: "plain", role: "extractor", executable: exe, restart: .transient,
                              shutdown: .brutalKill, readinessTimeout: .milliseconds(7000),
                              watchdog: .milliseconds(10), memoryLimit: 128 * 1024 * 1024,
                              environment: [:], backoff: defaultsBackoff,
                              poisonPillCrashes: 0)   // the built-in 3, capped at the root's intensity 0
        let tuned = ChildSpec(name: "tuned", role: "loader", executable: exe, arguments: ["--batch", "500"],
                              restart: .temporary, shutdown: .grace(.zero), readinessTimeout: .milliseconds(1),
                              watchdog: nil, memoryLimit: nil,
                              environment: ["CIDP_MODE": "fast", "with space": "ok"],
                              backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(900),
                                               multiplier: 3, jitter: 1, stablePeriod: .milliseconds(2500)))
        let deep = ChildSpec(name: "deep_1", role: "trainer", executable: exe, restart: .transient,
                             shutdown: .brutalKill, readinessTimeout: .milliseconds(7000),
                             watchdog: .milliseconds(10), memoryLimit: 4096 * 1024 * 1024,
                             environment: [:],
                             backoff: Backoff(initial: .zero, maximum: .zero, multiplier: 1.5, jitter: 0,
                                              stablePeriod: .milliseconds(2500)))
        let sub = NodeSpec(name: "sub", strategy: .oneForOne, intensity: 3, period: .milliseconds(5000),
                           children: [.worker(deep)])
        let group = NodeSpec(name: "group", strategy: .restForOne, intensity: 7, period: .milliseconds(60000),
                             children: [.worker(tuned), .node(sub)])
        let expected = Policy(
            root: NodeSpec(name: "plant-7", strategy: .oneForAll, intensity: 0, period: .milliseconds(1000),
                           children: [.worker(plain), .node(group)]),
            logging: LogSettings(directory: "/var/log/cidp", maxBytes: 4096, keep: 1, consoleLevel: "debug"))
        #expect(policy.root == expected.root)
        #expect(policy.logging == expected.logging)
    }

    @Test func errorsInLaterTablesOfTheFullPolicyAreLocated() {
        // Keys after a multi-line array, a comment and dotted keys are still found on their own lines.
        let broken = Self.full.replacingFirst("backoff.jitter = 1.0", with: "backoff.jitter = 2.0")
        #expect(PolicyFixture.rejection(broken)
            == "p.toml:51: workers.tuned.backoff.jitter: expected a fraction between 0.0 and 1.0, got 2.0")
        let late = Self.full.replacingFirst("multiplier = 1.5", with: "multiplier = 0.9")
        #expect(PolicyFixture.rejection(late)
            == "p.toml:62: workers.deep_1.backoff.multiplier: expected a multiplier >= 1.0, got 0.9")
    }

    @Test func headerInsideMultilineStringDoesNotMoveLines() {
        let text = """
            [supervisor]
            children = ["a"]
            [workers.a]
            role = "test"
            args = [\"\"\"
            [workers.a]
            restart = 1
            \"\"\"]
            restart = "sometimes"
            """
        #expect(PolicyFixture.rejection(text) == #"p.toml:9: workers.a.restart: unknown restart type "sometimes"; "#
            + "expected one of: permanent, transient, temporary")
    }

    @Test func firstUnknownKeyInFileOrderIsReported() {
        let text = PolicyFixture.minimal + "\nzeta = 1\nalpha = 2"
        #expect(PolicyFixture.rejection(text)?.hasPrefix(#"p.toml:6: workers.a.zeta: unknown key "zeta""#) == true)
    }

    @Test func defaultPolicyDescribesTheDesignTree() throws {
        let policy = try PolicyLoader.load(path: PolicyFixture.packageRoot + "/policies/default.toml",
                                           executable: exe, roles: WorkerRole.policySchemas)
        let root = policy.root
        #expect(root.name == "cidp")
        #expect(root.strategy == .oneForOne)
        #expect(root.children.map(\.name) == ["sensor-sim", "etl", "ml"])
        guard case .worker(let sensor) = root.children[0], case .node(let etl) = root.children[1],
              case .node(let ml) = root.children[2] else {
            Issue.record("expected worker, node, node; got \(root.children)")
            return
        }
        #expect(sensor.command == [exe, "worker", "sensor-sim"])
        #expect(etl.strategy == .restForOne)
        #expect(etl.children.map(\.name) == ["extractor", "transformer", "loader"])
        #expect(ml.strategy == .oneForOne)
        #expect(ml.children.map(\.name) == ["trainer", "predictor"])
        var workers: [String: ChildSpec] = [:]
        for case .worker(let spec) in etl.children + ml.children { workers[spec.name] = spec }
        for role in ["extractor", "loader"] {
            #expect(workers[role]?.command == [exe, "worker", role])
        }
        #expect(workers["trainer"]?.command == [exe, "worker", "trainer", "--gate", "warehouse.on_violation=halt"])
        // No `listen`: the predictor's default address, best effort.
        #expect(workers["predictor"]?.command == [exe, "worker", "predictor"])
        #expect(workers["transformer"]?.command == [exe, "worker", "transformer",
            "--range", "flow_rate=0:2000", "--range", "pressure=0:50",
            "--range", "vibration=0:100", "--range", "temperature=-50:200",
            "--gate", "record.on_violation=halt", "--gate", "record.max_future_s=3600",
            "--gate", "batch.on_violation=halt", "--gate", "batch.max_drop_rate=0.1",
            "--gate", "batch.label_rate_min=0.0", "--gate", "batch.label_rate_max=0.2",
            "--gate", "batch.max_psi=0.25", "--gate", "batch.min_records=500",
            "--gate", "batch.reference_records=5000", "--gate", "poison_pill.on_violation=halt"])
        #expect(workers["extractor"]?.watchdog == .milliseconds(3000))
        #expect(workers["extractor"]?.readinessTimeout == .milliseconds(10000))
        #expect(workers["extractor"]?.memoryLimit == 512 * 1024 * 1024)
        #expect(workers["extractor"]?.shutdown == .grace(.milliseconds(5000)))
        #expect(workers["loader"]?.shutdown == .grace(.milliseconds(10000)))
        #expect(workers["extractor"]?.input == nil)
        #expect(workers["transformer"]?.input == "extractor")
        #expect(workers["loader"]?.input == "transformer")
    }

    @Test func defaultPolicyNeedsItsRoles() {
        let path = PolicyFixture.packageRoot + "/policies/default.toml"
        #expect(throws: PolicyError.self) {
            try PolicyLoader.load(path: path, executable: exe, knownRoles: ["test"])
        }
    }
}

extension String {
    /// The string with the first occurrence of `target` replaced; unchanged (so a test fails) if absent.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

extension ChildSpec {
    /// The argv `cidp up` starts this worker with (the CLI's launch convention).
    var command: [String] { Worker.commandLine(self) }
}
