import PolicyRoles
import Supervisor
import Testing
import Workers

/// A role's settings as keys of its table (issue 11, item 6): what each key becomes, and every
/// mistake reported at its file, line and key — the TOML's shape by the parser, a value's meaning
/// by the role itself, pointed back at the key.
@Suite struct PolicyRoleKeyTests {
    static func parse(_ text: String) throws(PolicyError) -> Policy {
        try PolicyLoader.parse(text: text, file: "p.toml", executable: PolicyFixture.executable,
                               roles: WorkerRole.policySchemas)
    }

    static func rejection(_ text: String) -> String? {
        do { _ = try parse(text); return nil } catch { return error.description }
    }

    /// `[supervisor]` over one worker `w` of `role`, then `body` (lines 4 onwards are the worker's).
    static func policy(_ role: String, _ body: String) -> String {
        "[supervisor]\nchildren = [\"w\"]\n[workers.w]\nrole = \"\(role)\"\n" + body
    }

    /// The role's complaint about the worker's arguments (with what `cidp up` adds), located.
    static func located(_ policy: Policy, _ role: WorkerRole, adding extra: [String]) -> String? {
        let spec = policy.root.workers[0]
        do {
            try role.validate(arguments: spec.arguments + extra, environment: spec.environment)
            return nil
        } catch {
            return policy.locate(worker: spec.name, problem: error.description)?.description ?? "unlocated: \(error)"
        }
    }

    @Test func everyExtractorKeyBecomesItsOptionInSchemaOrder() throws {
        let policy = try Self.parse(Self.policy("extractor", """
            env = { TOKEN = "t" }
            give_up_after_s = 30
            page_size = 500
            [workers.w.source]
            allow_redirects = "none"
            timestamp_format = "epoch-millis"
            auth = "bearer"
            auth_token_env = "TOKEN"
            max_body_mb = 16
            [workers.w.source.fields]
            timestamp = "ts"
            pump_id = "asset"
            """))
        #expect(policy.root.workers[0].arguments == [
            "--page-size", "500", "--give-up-after-s", "30", "--field", "timestamp=ts", "--field", "pump_id=asset",
            "--timestamp-format", "epoch-millis", "--auth", "bearer", "--auth-token-env", "TOKEN",
            "--max-body-mb", "16", "--allow-redirects", "none",
        ])
        // And the role takes them as they are.
        #expect(Self.located(policy, .extractor, adding: ["--source", "http://127.0.0.1:1", "--db", "x"]) == nil)
    }

    @Test func rangesAndGatesBecomeTheTransformersOptionsInFileOrder() throws {
        let policy = try Self.parse(Self.policy("transformer", """
            window = 4
            [workers.w.ranges]
            pressure = [0, 50.5]
            temperature = [-50, 200]
            [workers.w.gates.batch]
            max_psi = 0.25
            on_violation = "quarantine_and_continue"
            [workers.w.gates.record]
            max_future_s = 3600
            """))
        #expect(policy.root.workers[0].arguments == [
            "--window", "4", "--range", "pressure=0:50.5", "--range", "temperature=-50:200",
            "--gate", "batch.max_psi=0.25", "--gate", "batch.on_violation=quarantine_and_continue",
            "--gate", "record.max_future_s=3600",
        ])
        #expect(Self.located(policy, .transformer, adding: ["--db", "x"]) == nil)
    }

    @Test(arguments: [
        RejectedPolicy(kind: "integer as a string", text: policy("extractor", "page_size = \"big\"\n"),
                       expected: #"p.toml:5: workers.w.page_size: expected an integer, got string "big""#),
        RejectedPolicy(kind: "unknown key", text: policy("loader", "lock_deadline = 5\n"),
                       expected: #"p.toml:5: workers.w.lock_deadline: unknown key "lock_deadline"; allowed keys: role, args, env, "#
                        + "input, listen, allow_non_loopback, restart, shutdown, readiness_timeout_ms, watchdog_ms, "
                        + "memory_limit_mb, poison_pill_crashes, backoff, lock_deadline_ms, io_give_up_after_s"),
        RejectedPolicy(kind: "unknown nested key", text: policy("extractor", "[workers.w.source]\ntoken = \"x\"\n"),
                       expected: #"p.toml:6: workers.w.source.token: unknown key "token"; allowed keys: fields, "#
                        + "timestamp_format, auth, auth_token_file, auth_token_env, ca_bundle, max_body_mb, "
                        + "request_deadline_ms, allow_redirects"),
        RejectedPolicy(kind: "a range of one number", text: policy("transformer", "[workers.w.ranges]\npressure = [0]\n"),
                       expected: "p.toml:6: workers.w.ranges.pressure: expected an array of two numbers [MIN, MAX], got an array"),
        RejectedPolicy(kind: "a gate that is not a table", text: policy("trainer", "[workers.w.gates]\nwarehouse = \"halt\"\n"),
                       expected: #"p.toml:6: workers.w.gates.warehouse: expected a table, got string "halt""#),
        RejectedPolicy(kind: "a gate value that is an array", text: policy("trainer", "[workers.w.gates.warehouse]\non_violation = [1]\n"),
                       expected: "p.toml:6: workers.w.gates.warehouse.on_violation: expected a string, a number or true/false, got an array"),
        RejectedPolicy(kind: "a field name that is a number", text: policy("extractor", "[workers.w.source.fields]\nts = 3\n"),
                       expected: "p.toml:6: workers.w.source.fields.ts: expected a string, got integer 3"),
        RejectedPolicy(kind: "args for a pipeline role", text: policy("transformer", "args = [\"--gate\", \"batch.max_psi=0.3\"]\n"),
                       expected: #"p.toml:5: workers.w.args: role "transformer" takes its settings as keys of its table, not args; "#
                        + "--gate batch.max_psi=0.3 is [workers.w.gates.batch] max_psi = 0.3 "
                        + #"(policies/README.md, "Roles and their settings")"#),
        RejectedPolicy(kind: "args for the trainer", text: policy("trainer", "args = [\"--backup-dir\", \"/b\"]\n"),
                       expected: #"p.toml:5: workers.w.args: role "trainer" takes its settings as keys of its table, not args; "#
                        + #"--backup-dir /b is [workers.w] backup_dir = "/b" (policies/README.md, "Roles and their settings")"#),
    ])
    func aMistakeIsReportedAtItsLineAndKey(_ rejected: RejectedPolicy) {
        #expect(Self.rejection(rejected.text) == rejected.expected)
    }

    @Test func theTestRoleAndTheSimulatorKeepTheirArgs() throws {
        let test = try Self.parse(Self.policy("test", "args = [\"--exit-after-ms\", \"5\"]\n"))
        #expect(test.root.workers[0].arguments == ["--exit-after-ms", "5"])
        let simulator = try Self.parse(Self.policy("sensor-sim", "args = [\"--profile\", \"x\"]\n"))
        #expect(simulator.root.workers[0].arguments == ["--profile", "x"])
        #expect(Self.rejection(Self.policy("test", "page_size = 3\n"))?.hasPrefix("p.toml:5: workers.w.page_size: unknown key") == true)
    }

    @Test func aValueTheRoleRefusesIsReportedAtTheKeyThatSetIt() throws {
        let extra = ["--source", "http://127.0.0.1:1", "--db", "x"]
        let pageSize = try Self.parse(Self.policy("extractor", "window = 8\npage_size = 0\n"))
        #expect(Self.located(pageSize, .extractor, adding: extra)
                == "p.toml:6: workers.w.page_size: --page-size expects an integer in 1...10000, got '0'")
        // `--auth` is not `--auth-token-env`: the complaint is the scheme's.
        let auth = try Self.parse(Self.policy("extractor", "[workers.w.source]\nauth_token_env = \"T\"\nauth = \"digest\"\n"))
        let authError = try #require(Self.located(auth, .extractor, adding: extra))
        #expect(authError.hasPrefix("p.toml:7: workers.w.source.auth: --auth expects one of"), "\(authError)")
        // One gate among several, by its own key.
        let gate = try Self.parse(Self.policy("transformer", """
            [workers.w.gates.batch]
            on_violation = "halt"
            max_psi = -1
            min_records = 10
            """))
        let gateError = try #require(Self.located(gate, .transformer, adding: ["--db", "x"]))
        #expect(gateError.hasPrefix("p.toml:7: workers.w.gates.batch.max_psi: --gate 'batch.max_psi=-1'"), "\(gateError)")
        // A range the role cannot read, at its reading.
        let range = try Self.parse(Self.policy("transformer", "[workers.w.ranges]\npressure = [0, 50]\nflow_rate = [9, 1]\n"))
        let rangeError = try #require(Self.located(range, .transformer, adding: ["--db", "x"]))
        #expect(rangeError.hasPrefix("p.toml:7: workers.w.ranges.flow_rate: "), "\(rangeError)")
    }
}
