import Foundation
import Testing

/// `cidp drill NAME` through the real binary: each drill passes on the default tree, a drill can
/// fail (and says why), and usage errors are one line, exit 2. Drills run one at a time: each
/// spawns a whole tree and some hold a lock or an outage for seconds.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DrillTests {
    /// The repository's default policy.
    static let defaultPolicy: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("policies/default.toml").path
    }()

    /// Runs `cidp drill NAME --records N ARGS` in a sandbox of its own; the drill's temporary
    /// directory goes under the sandbox too (TMPDIR), so nothing outlives the test.
    func drill(_ name: String, _ arguments: [String] = [], records: Int = 10_000,
               policy: String = DrillTests.defaultPolicy) throws -> (code: Int32, stdout: String, stderr: String, sandbox: Sandbox) {
        let sandbox = try Sandbox(policy: "")
        let run = try sandbox.run("/usr/bin/env", ["TMPDIR=\(sandbox.path)", cidpBinary, "drill", name,
                                                   "--policy", policy, "--records", "\(records)"] + arguments,
                                  timeout: .seconds(100))
        return (run.code, run.stdout, run.stderr, sandbox)
    }

    /// The check lines of a drill's output, `PASS  name  …` or `FAIL  name  …`.
    static func checks(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("PASS  ") || $0.hasPrefix("FAIL  ") }
    }

    /// The integer just before `suffix` in what a check line observed (`… observed 2000 rows; …` → 2000).
    static func number(before suffix: String, in line: String) -> Int? {
        guard let observed = line.range(of: "  observed ")?.upperBound,
              let end = line[observed...].range(of: suffix)?.lowerBound else { return nil }
        return Int(String(line[observed..<end].reversed().prefix { $0.isNumber }.reversed()))
    }

    /// Exit 0, every check line PASS, each of `expected` among them, and the verdict last.
    func expectPassed(_ name: String, _ run: (code: Int32, stdout: String, stderr: String, sandbox: Sandbox),
                      checks expected: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = Self.checks(run.stdout)
        #expect(run.code == 0, "cidp drill \(name) exit code\n\(run.stdout)\n\(run.stderr.suffix(2000))", sourceLocation: sourceLocation)
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("PASS  ") }, "\(run.stdout)", sourceLocation: sourceLocation)
        for check in expected {
            #expect(lines.contains { $0.hasPrefix("PASS  \(check)  expected ") && $0.contains("  observed ") },
                    "no PASS line for '\(check)':\n\(run.stdout)", sourceLocation: sourceLocation)
        }
        #expect(run.stdout.split(separator: "\n").last.map(String.init) == "drill \(name): PASS", "\(run.stdout)",
                sourceLocation: sourceLocation)
        // The temporary directory is removed unless --keep.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: run.sandbox.path))?.filter { $0.hasPrefix("cidp-drill-") }
        #expect(left == [], "drill directories left behind: \(left ?? [])", sourceLocation: sourceLocation)
    }

    @Test func deadlockDrillPassesOnTheDefaultTree() throws {
        let run = try drill("deadlock")
        expectPassed("deadlock", run, checks: ["lock held", "loader degraded while locked", "loader recovered",
                                               "no worker crashed", "cidp up exit", "fact table", "checkpoint reconciles"])
    }

    @Test func apiDownDrillPassesOnTheDefaultTree() throws {
        let run = try drill("api-down")
        expectPassed("api-down", run, checks: ["extractor degraded during outage", "extractor recovered", "no crash loop",
                                               "cidp up exit", "fact table"])
    }

    @Test func oomDrillPassesOnTheDefaultTree() throws {
        let run = try drill("oom")
        expectPassed("oom", run, checks: ["fault fired", "loader died of it", "loader restarted once",
                                          "others kept their pids", "cidp up exit", "fact table"])
        // The death is the memory limit's doing: a fatal signal, not an exit code.
        #expect(Self.checks(run.stdout).contains { $0.hasPrefix("PASS  loader died of it") && $0.contains("signal SIG") },
                "\(run.stdout)")
    }

    @Test func keepLeavesTheTemporaryCopyWithItsWarehouseAndLogsAndNothingElsewhere() throws {
        let run = try drill("oom", ["--keep"])
        #expect(run.code == 0, "\(run.stdout)\n\(run.stderr.suffix(2000))")
        let kept = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("  kept ") }, "\(run.stdout)")
        let directory = try #require(kept.split(separator: " ").dropFirst().first.map(String.init))
        #expect(directory.hasPrefix(run.sandbox.path + "/cidp-drill-oom-"), "\(kept)")
        for file in ["policy.toml", "database/industrial_dwh.sqlite", "logs/cidp.log", "up.stdout", "up.stderr"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + file), "\(file) not in \(directory)")
        }
        // The run's logs are the drill's: the loader's death is in them.
        let log = (try? String(contentsOfFile: directory + "/logs/cidp.log", encoding: .utf8)) ?? ""
        #expect(log.contains("Worker exited unexpectedly") && log.contains("fault injection"))
        // Nothing landed in the working directory of `cidp drill` (no logs/, run/, database/).
        let here = (try? FileManager.default.contentsOfDirectory(atPath: run.sandbox.path)) ?? []
        #expect(here.filter { !$0.hasPrefix("cidp-drill-") && !$0.hasPrefix("run.") && $0 != "policy.toml" } == [], "\(here)")
    }

    @Test func killDrillPassesOnTheDefaultTree() throws {
        let run = try drill("kill")
        expectPassed("kill", run, checks: ["kills landed", "killed workers restarted", "tree survived", "cidp up exit",
                                           "fact table"])
        // The evidence names each kill: worker, old pid → new pid.
        let kills = Self.checks(run.stdout).first { $0.hasPrefix("PASS  kills landed") } ?? ""
        #expect(kills.components(separatedBy: "→").count - 1 == 6, "\(kills)")
    }

    @Test func corruptionDrillPassesOnTheDefaultTree() throws {
        let run = try drill("corruption")
        expectPassed("corruption", run, checks: ["cidp up exit", "gate named", "batch quarantined",
                                                 "halted at the first poisoned batch", "batches before it loaded",
                                                 "nothing after it loaded", "no poisoned row loaded",
                                                 "malformed bodies retried", "no model on quarantined data"])
        let lines = Self.checks(run.stdout)
        // The poison starts after clean batches: real rows are loaded before the quarantined one …
        let loaded = lines.first { $0.hasPrefix("PASS  batches before it loaded") }
            .flatMap { Self.number(before: " rows;", in: $0) }
        #expect((loaded ?? 0) >= 2000, "\(run.stdout)")
        let quarantined = lines.first { $0.hasPrefix("PASS  halted at the first poisoned batch") }
            .flatMap { Self.number(before: " quarantined", in: $0) }
        #expect((quarantined ?? 0) >= 3, "\(run.stdout)")
        // … and the malformed bodies the extractor retried are counted.
        let malformed = lines.first { $0.hasPrefix("PASS  malformed bodies retried") }
            .flatMap { Self.number(before: " malformed bodies retried (", in: $0) }
        #expect((malformed ?? 0) > 0, "\(run.stdout)")
    }

    @Test func aRecordGateThatOnlyQuarantinesFailsTheCorruptionDrill() throws {
        // The record gate quarantines the poisoned batches and goes on: nothing poisoned is
        // loaded, but the chain never halts, the job exits 0 and trains — the drill must say FAIL.
        let sandbox = try Sandbox(policy: "")
        let policy = sandbox.path + "/quarantine-and-continue.toml"
        let text = try String(contentsOfFile: Self.defaultPolicy, encoding: .utf8)
        #expect(text.contains("[workers.transformer.gates.record]\non_violation = \"halt\""))
        try text.replacingOccurrences(of: "[workers.transformer.gates.record]\non_violation = \"halt\"",
                                      with: "[workers.transformer.gates.record]\non_violation = \"quarantine_and_continue\"")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let run = try drill("corruption", policy: policy)
        let lines = Self.checks(run.stdout)
        #expect(run.code == 1, "\(run.stdout)\n\(run.stderr.suffix(2000))")
        #expect(lines.contains { $0.hasPrefix("FAIL  cidp up exit") && $0.contains("observed exit code 0") }, "\(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("FAIL  gate named") }, "\(run.stdout)")
        #expect(run.stdout.split(separator: "\n").last.map(String.init) == "drill corruption: FAIL", "\(run.stdout)")
    }

    @Test func anExtractorThatDoesNotRetryMalformedBodiesFailsTheCorruptionDrill() throws {
        // With --malformed-limit 1 the first malformed body halts the chain at the extractor
        // (seed 42 serves one on the very first page): no batch is loaded or quarantined, and no
        // malformed body is retried — the drill must say so.
        let sandbox = try Sandbox(policy: "")
        let policy = sandbox.path + "/no-malformed-retry.toml"
        let text = try String(contentsOfFile: Self.defaultPolicy, encoding: .utf8)
        let extractor = "[workers.extractor]\nrole = \"extractor\"\n"
        #expect(text.contains(extractor))
        try text.replacingOccurrences(of: extractor, with: extractor + "malformed_limit = 1\n")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let run = try drill("corruption", policy: policy)
        let lines = Self.checks(run.stdout)
        #expect(run.code == 1, "\(run.stdout)\n\(run.stderr.suffix(2000))")
        #expect(lines.contains { $0.hasPrefix("FAIL  malformed bodies retried") && $0.contains("observed 0 malformed bodies retried") },
                "\(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("FAIL  batches before it loaded") && $0.contains("observed 0 rows") }, "\(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("FAIL  halted at the first poisoned batch") }, "\(run.stdout)")
        #expect(run.stdout.split(separator: "\n").last.map(String.init) == "drill corruption: FAIL", "\(run.stdout)")
    }

    @Test func aSourceTooSmallForCleanBatchesFailsTheCorruptionDrillSayingWhy() throws {
        let run = try drill("corruption", records: 2000)
        #expect(run.code == 1, "\(run.stdout)\n\(run.stderr.suffix(2000))")
        #expect(Self.checks(run.stdout) == [
            "FAIL  scenario fits  expected --records holding ≥ 3 batches of 1000 (2 clean, then the poisoned one)  "
                + "observed --records 2000: 2 full batches",
        ], "\(run.stdout)")
    }

    @Test func aLoaderThatGivesUpOnTheLockFailsTheDeadlockDrill() throws {
        // The loader's lock deadline (1 s) is shorter than the drill's lock (5 s): under --follow it
        // gives up (exit 75, the world's trouble) and is restarted — the drill must see it and say FAIL.
        let sandbox = try Sandbox(policy: "")
        let policy = sandbox.path + "/short-lock-deadline.toml"
        try String(contentsOfFile: Self.defaultPolicy, encoding: .utf8)
            .replacingOccurrences(of: "[workers.loader]\n", with: "[workers.loader]\nlock_deadline_ms = 1000\n")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let run = try drill("deadlock", policy: policy)
        let lines = Self.checks(run.stdout)
        #expect(run.code == 1, "\(run.stdout)\n\(run.stderr.suffix(2000))")
        let crash = lines.first { $0.hasPrefix("FAIL  no worker crashed") }
        #expect(crash?.contains("loader") == true && crash?.contains("locked by another connection") == true, "\(run.stdout)")
        #expect(run.stdout.split(separator: "\n").last.map(String.init) == "drill deadlock: FAIL", "\(run.stdout)")
    }

    @Test func anUnknownDrillIsOneLineNamingTheKnownOnes() throws {
        let sandbox = try Sandbox(policy: "")
        let run = try sandbox.cidp(["drill", "flood"])
        #expect(run.code == 2)
        #expect(run.stderr == "cidp: unknown drill 'flood'; known drills: corruption, deadlock, api-down, oom, kill, all\n", "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func aPolicyWithoutTheSimulatorChainIsAUsageError() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [("a", "")]))
        let run = try sandbox.cidp(["drill", "kill", "--policy", sandbox.policyPath])
        #expect(run.code == 2)
        #expect(run.stderr.hasPrefix("cidp: --policy ") && run.stderr.contains("no worker with role 'sensor-sim'"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }
}
