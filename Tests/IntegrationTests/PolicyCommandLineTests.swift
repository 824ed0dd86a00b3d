import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bad policies and bad command lines through the real `cidp`: exit 2, one line on stderr that
/// names the file, the line or key and what is expected, and nothing started.
@Suite(.timeLimit(.minutes(1)))
struct PolicyCommandLineTests {
    /// A malformed policy and what its one-line error must say.
    struct Case: CustomTestStringConvertible, Sendable {
        var kind: String
        var policy: String
        /// `bad.toml:LINE:` prefix; nil when the error has no line.
        var line: Int?
        /// The key path the error must name; nil for syntax errors, which have none.
        var keyPath: String?
        var expected: String

        var testDescription: String { kind }
    }

    /// Lines 1–6: a valid root and worker `a` that would record its start.
    static let head = """
    [supervisor]
    children = ["a"]

    [workers.a]
    role = "test"
    args = ["--record", "$RECORD"]
    """

    static let cases: [Case] = [
        Case(kind: "TOML syntax", policy: head + "\nshutdown = = 3\n", line: 7, keyPath: nil,
             expected: "invalid TOML"),
        Case(kind: "unknown key", policy: head + "\nshutdwn = 3\n", line: 7, keyPath: "workers.a.shutdwn",
             expected: "unknown key \"shutdwn\""),
        Case(kind: "wrong type", policy: head + "\nreadiness_timeout_ms = \"soon\"\n", line: 7,
             keyPath: "workers.a.readiness_timeout_ms", expected: "expected an integer"),
        Case(kind: "out of range", policy: head + "\nshutdown = -5\n", line: 7, keyPath: "workers.a.shutdown",
             expected: "expected a duration in milliseconds >= 0 or \"brutal_kill\", got -5"),
        Case(kind: "unknown strategy", policy: """
            [supervisor]
            strategy = "one_for_some"
            children = ["a"]
            [workers.a]
            role = "test"
            args = ["--record", "$RECORD"]
            """, line: 2, keyPath: "supervisor.strategy", expected: "expected one of: one_for_one, one_for_all, rest_for_one"),
        Case(kind: "unknown role", policy: """
            [supervisor]
            children = ["a"]
            [workers.a]
            role = "wizard"
            args = ["--record", "$RECORD"]
            """, line: 4, keyPath: "workers.a.role", expected: "unknown role \"wizard\""),
        Case(kind: "missing role", policy: """
            [supervisor]
            children = ["a"]
            [workers.a]
            args = ["--record", "$RECORD"]
            """, line: 3, keyPath: "workers.a.role", expected: "missing required key"),
        Case(kind: "undefined child", policy: head.replacingOccurrences(of: #"["a"]"#, with: #"["a", "ghost"]"#),
             line: 2, keyPath: "supervisor.children", expected: "\"ghost\" is not defined"),
        Case(kind: "unreachable worker", policy: head + "\n[workers.lost]\nrole = \"test\"\n", line: 7,
             keyPath: "workers.lost", expected: "not reachable from [supervisor]"),
        Case(kind: "cycle", policy: """
            [supervisor]
            children = ["a", "n1"]
            [nodes.n1]
            children = ["n2"]
            [nodes.n2]
            children = ["n1"]
            [workers.a]
            role = "test"
            args = ["--record", "$RECORD"]
            """, line: 6, keyPath: "nodes.n2.children", expected: "cycle of nodes: n1 -> n2 -> n1"),
        Case(kind: "child with two parents", policy: """
            [supervisor]
            children = ["a", "n1"]
            [nodes.n1]
            children = ["a"]
            [workers.a]
            role = "test"
            args = ["--record", "$RECORD"]
            """, line: 4, keyPath: "nodes.n1.children", expected: "already listed in supervisor.children"),
        Case(kind: "watchdog too short", policy: head + "\nwatchdog_ms = 5\n", line: 7, keyPath: "workers.a.watchdog_ms",
             expected: "got 5"),
        Case(kind: "backoff max below initial", policy: head + "\n[workers.a.backoff]\ninitial_ms = 500\nmax_ms = 100\n",
             line: 9, keyPath: "workers.a.backoff.max_ms", expected: "expected max_ms >= initial_ms"),
        Case(kind: "missing supervisor", policy: "[workers.a]\nrole = \"test\"\nargs = [\"--record\", \"$RECORD\"]\n",
             line: nil, keyPath: "supervisor", expected: "missing required table [supervisor]"),
    ]

    @Test(arguments: cases)
    func malformedPolicyIsRejectedWithOneLineAndNothingStarts(_ bad: Case) throws {
        let sandbox = try Sandbox(policy: bad.policy)
        // Under the name the error must quote.
        try FileManager.default.moveItem(atPath: sandbox.policyPath, toPath: sandbox.path + "/bad.toml")

        let result = try sandbox.cidp(["up", "--policy", "bad.toml", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2, "stderr: \(result.stderr)")
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        let line = String(lines.first ?? "")
        let location = bad.line.map { "cidp: bad.toml:\($0): " } ?? "cidp: bad.toml: "
        #expect(line.hasPrefix(location), "\(bad.kind): \(line)")
        if let keyPath = bad.keyPath { #expect(line.contains(": \(keyPath): "), "\(bad.kind): \(line)") }
        #expect(line.contains(bad.expected), "\(bad.kind): \(line)")
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")

        #expect(!FileManager.default.fileExists(atPath: sandbox.recordPath), "a worker was started: \(sandbox.records)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))
    }

    /// A worker's `args` are checked as the worker will parse them, before anything starts.
    @Test func badWorkerArgumentsAreAUsageErrorBeforeAnythingStarts() throws {
        let sandbox = try Sandbox(policy: """
            [supervisor]
            children = ["a", "b"]
            [workers.a]
            role = "test"
            args = ["--record", "$RECORD"]
            [workers.b]
            role = "test"
            args = ["--record", "$RECORD", "--crash-after", "soon"]
            """)
        let result = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2, "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("--crash-after") && result.stderr.contains("soon"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.recordPath), "a worker was started: \(sandbox.records)")
    }

    /// A role's key whose value the role refuses: `cidp up` names the file, line and key, exits 2,
    /// and leaves no warehouse, log or run directory behind.
    @Test func aRoleKeyTheRoleRefusesIsReportedAtItsLineBeforeAnythingIsCreated() throws {
        let policy = try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.extractor]\nrole = \"extractor\"\n", with: "[workers.extractor]\nrole = \"extractor\"\npage_size = 0\n")
        let line = policy.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "page_size = 0" }.map { $0 + 1 }
        let sandbox = try Sandbox(policy: policy)
        let db = sandbox.path + "/w.sqlite"
        let result = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db])
        #expect(result.code == 2, "stderr: \(result.stderr)")
        #expect(result.stderr == "cidp: \(sandbox.policyPath):\(try #require(line)): workers.extractor.page_size: "
                + "--page-size expects an integer in 1...10000, got '0'\n", "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db))
        #expect(!FileManager.default.fileExists(atPath: sandbox.runDirectory))
    }

    @Test func missingPolicyFileExitsTwo() throws {
        let sandbox = try Sandbox(policy: "")
        let result = try sandbox.cidp(["up", "--policy", "nowhere.toml", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("nowhere.toml: cannot read: No such file or directory"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))
    }

    /// The simulator's hours end in 2022: more records would be stamped in the future, which the record gate rejects.
    @Test func recordsBeyondTheSimulatorsCapExitTwoWithOneLine() throws {
        let sandbox = try Sandbox(policy: "")
        let result = try sandbox.cidp(["up", "--records", "2000001", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2)
        #expect(result.stderr.contains("--records expects 1...2000000 (the simulator's hours end in 2022), got 2000001"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))
    }

    @Test(arguments: [["up", "--bogus"], ["restart"], ["status", "--json", "extra"], ["worker", "nosuchrole"], ["launch"]])
    func badCommandLineExitsTwo(_ arguments: [String]) throws {
        let sandbox = try Sandbox(policy: "")
        let result = try sandbox.cidp(arguments)
        #expect(result.code == 2, "\(arguments): stdout \(result.stdout) stderr \(result.stderr)")
        #expect(!result.stderr.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: sandbox.runDirectory))
    }
}
