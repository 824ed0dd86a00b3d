import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10: "A policy with ~3,500 nested nodes kills `cidp up` with SIGSEGV and no message;
/// `role = "test"` in the extractor's place is accepted and the job hangs." Through the real
/// `cidp up`: exit 2, one line naming what and where, and nothing created.
@Suite(.timeLimit(.minutes(1)))
struct PolicyLimitTests {
    /// `cidp up` on `policy` (in a file named `bad.toml`): exit 2 with one line holding each of
    /// `expected`, and no run directory, socket or warehouse left behind.
    static func expectRefused(_ policy: String, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let sandbox = try Sandbox(policy: policy)
        try FileManager.default.moveItem(atPath: sandbox.policyPath, toPath: sandbox.path + "/bad.toml")
        let db = sandbox.path + "/database/dwh.sqlite"
        let result = try sandbox.cidp(["up", "--policy", "bad.toml", "--run-dir", sandbox.runDirectory, "--db", db, "--records", "100"],
                                      timeout: .seconds(30))
        #expect(result.code == 2, "exit \(result.code), stderr: \(result.stderr.suffix(2000))", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr.suffix(2000))", sourceLocation: sourceLocation)
        for text in expected {
            #expect(lines.first?.contains(text) == true, "missing \(text.debugDescription) in: \(result.stderr.prefix(2000))",
                    sourceLocation: sourceLocation)
        }
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
        let left = try FileManager.default.contentsOfDirectory(atPath: sandbox.path).filter { !$0.hasPrefix("run.") }
        #expect(left == ["bad.toml"], "created: \(left)", sourceLocation: sourceLocation)
    }

    @Test func thousandsOfNestedNodesAreOneLineAndExitTwoNotASegfault() throws {
        var policy = "[supervisor]\nchildren = [\"n0\"]\n"
        for level in 0..<3500 {
            policy += "\n[nodes.n\(level)]\nchildren = [\"\(level + 1 < 3500 ? "n\(level + 1)" : "w")\"]\n"
        }
        policy += "\n[workers.w]\nrole = \"test\"\n"
        try Self.expectRefused(policy, ["cidp: bad.toml:772: nodes.n256: 3501 nodes and workers; a tree holds at most 256"])
    }

    @Test func nodesSeventeenLevelsDeepAreOneLineAndExitTwo() throws {
        var policy = "[supervisor]\nchildren = [\"n0\"]\n"
        for level in 0..<17 {
            policy += "\n[nodes.n\(level)]\nchildren = [\"\(level + 1 < 17 ? "n\(level + 1)" : "w")\"]\n"
        }
        policy += "\n[workers.w]\nrole = \"test\"\n"
        try Self.expectRefused(policy, ["cidp: bad.toml:50: nodes.n15.children: \"n16\" would be a node 17 levels below [supervisor]",
                                        "nodes nest at most 16 levels"])
    }

    @Test func aKeyThousandsOfLevelsDeepIsOneLineAndExitTwoNotASegfault() throws {
        let header = "[nodes." + Array(repeating: "x", count: 50_000).joined(separator: ".") + "]\n"
        try Self.expectRefused("[supervisor]\nchildren = [\"w\"]\n[workers.w]\nrole = \"test\"\n" + header,
                               ["cidp: bad.toml:5: a key nested 50001 levels deep", "keys nest at most 8 levels"])
    }

    /// The default policy with one worker's lines replaced.
    static func defaultPolicy(replacing old: String, with new: String) throws -> String {
        let policy = try EtlTests.defaultPolicy()
        #expect(policy.contains(old), "the default policy has no \(old.debugDescription)")
        return policy.replacingOccurrences(of: old, with: new)
    }

    @Test func aTestWorkerWhereTheChainExpectsAnExtractorIsRefusedNamingIt() throws {
        let policy = try Self.defaultPolicy(replacing: "[workers.extractor]\nrole = \"extractor\"\n",
                                            with: "[workers.extractor]\nrole = \"test\"\n")
        try Self.expectRefused(policy, [
            "cidp: policy 'bad.toml': workers.extractor: role \"test\" where the chain expects an extractor: "
                + "transformer 'transformer' takes its input from it (input = \"extractor\") (the chain is extractor -> transformer -> loader)",
        ])
    }

    @Test(arguments: [
        ("a test worker in the loader's place", "[workers.loader]\nrole = \"loader\"\n", "[workers.loader]\nrole = \"test\"\n",
         "workers.loader: role \"test\" where the chain expects a loader: it takes its input from transformer 'transformer'"),
        ("a loader without input", "role = \"loader\"\ninput = \"transformer\"\n", "role = \"loader\"\n",
         "workers.loader: role \"loader\" has no input: expected input = \"NAME\" of a transformer"),
        ("an extractor reading a channel", "[workers.extractor]\nrole = \"extractor\"\n",
         "[workers.extractor]\nrole = \"extractor\"\ninput = \"sensor-sim\"\n",
         "workers.extractor: role \"extractor\" reads no data channel: remove input = \"sensor-sim\""),
    ])
    func aPipelineRoleOutOfPlaceIsRefused(_ kind: String, _ old: String, _ new: String, _ expected: String) throws {
        try Self.expectRefused(try Self.defaultPolicy(replacing: old, with: new), ["cidp: policy 'bad.toml': " + expected])
    }
}
