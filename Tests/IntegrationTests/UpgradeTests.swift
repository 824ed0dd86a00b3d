@testable import cidp
import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `cidp upgrade` on a real `--follow` run of the default tree: every worker moved, one at a time,
/// to a second build of the binary (the same code with another GNU build id, as a rebuild gives),
/// with nothing lost; a binary that never becomes ready rolled back with the old build running.
@Suite(.timeLimit(.minutes(3)))
struct UpgradeTests {
    func rowsLoaded(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path),
              let warehouse = try? Warehouse(readingOnly: path, busyTimeout: .milliseconds(100)) else { return 0 }
        return (try? warehouse.rowCount()) ?? 0
    }

    /// Copies of `cidp` and of the executables it execs (`cidp-sensor-sim`, `cidp-predictor`, beside it) whose GNU
    /// build-id notes differ in their first byte, in `directory`. - Returns: the new `cidp`.
    static func secondBuild(in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let folder = URL(fileURLWithPath: cidpBinary).deletingLastPathComponent()
        for name in ["cidp", "cidp-sensor-sim", "cidp-predictor"] {
            var bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            // The note's header: name size 4, descriptor size 20, type 3 (NT_GNU_BUILD_ID), "GNU\0".
            let header: [UInt8] = [4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4E, 0x55, 0]
            let found = (0...(bytes.count - header.count - 20)).filter { bytes[$0] == 4 && Array(bytes[$0..<$0 + 16]) == header }
            #expect(found.count == 1, "\(name): build-id notes found: \(found.count)")
            bytes[try #require(found.first) + 16] ^= 0xFF   // the first byte: status shows the first 12 digits
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
            chmod(directory + "/" + name, 0o755)
        }
        return directory + "/cidp"
    }

    @Test func everyWorkerMovesToTheNewBuildWithNothingLostAndABrokenOneRollsBack() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let newBuild = try Self.secondBuild(in: sandbox.path + "/new")
        let broken = sandbox.path + "/broken"
        try "#!/bin/sh\necho 'broken build: cannot start' >&2\nexit 3\n".write(toFile: broken, atomically: true, encoding: .utf8)
        chmod(broken, 0o755)
        // A 500,000-row load (the size), the upgrades in the middle of it.
        let records = 500_000
        let supervisor = try sandbox.up(["--follow", "--records", "\(records)", "--db", db], waitUntilReady: false)
        let control = ["--run-dir", sandbox.runDirectory]
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= 3_000 })
        let before = try supervisor.waitForAllRunning()
        // Three binaries: cidp, and the simulator and predictor that 'cidp worker sensor-sim|predictor' exec.
        let oldBuilds = Dictionary(uniqueKeysWithValues: try supervisor.status().workers.map { ($0.name, $0.build) })
        #expect(Set(oldBuilds.values).count == 3 && !oldBuilds.values.contains(nil), "\(oldBuilds)")

        // A binary that exits at once: rolled back, exit 1 naming the worker, the old build runs.
        let failed = try sandbox.cidp(["upgrade", "extractor", "--exe", broken] + control)
        #expect(failed.code == 1, "\(failed.stdout) \(failed.stderr)")
        #expect(failed.stderr.contains("upgrade stopped at 'extractor'") && failed.stderr.contains("rolled back"), "\(failed.stderr)")
        var tree = try supervisor.status()
        #expect(tree.find("extractor")?.state == "running" && tree.find("extractor")?.build == oldBuilds["extractor"])
        #expect(tree.find("transformer")?.pid == before["transformer"] && tree.find("loader")?.pid == before["loader"])

        // Every worker, in start order, to the second build.
        let upgraded = try sandbox.cidp(["upgrade", "--exe", newBuild] + control, timeout: .seconds(120))
        #expect(upgraded.code == 0, "\(upgraded.stdout) \(upgraded.stderr)")
        #expect(upgraded.stdout.split(separator: "\n").count == before.count, "\(upgraded.stdout)")
        tree = try supervisor.status()
        for worker in tree.workers {
            #expect(worker.state == "running" && worker.pid != before[worker.name], "\(tree.renderTable())")
            #expect(worker.build != nil && worker.build != oldBuilds[worker.name], "\(worker.name): \(tree.renderTable())")
            #expect(worker.build.map { tree.renderTable().contains($0) } == true)
        }
        #expect(Set(tree.workers.compactMap(\.build)).count == 3)

        #expect(rowsLoaded(db) < Int64(records), "the upgrades came after the load")
        #expect(poll(timeout: .seconds(120)) { rowsLoaded(db) >= Int64(records) })
        let shutdown = try sandbox.cidp(["stop"] + control)
        #expect(shutdown.code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(3000))")
        try EtlTests.checkWarehouse(db, count: Int(rowsLoaded(db)))
    }

    @Test func anExeThatIsNotAnExecutableFileIsAUsageErrorAndNothingChanges() throws {
        let sandbox = try Sandbox(policy: "")
        let result = try sandbox.cidp(["upgrade", "--exe", sandbox.path + "/nothing-here", "--run-dir", sandbox.runDirectory])
        #expect(result.code == 2 && result.stderr.contains("not an executable file"), "\(result.stderr)")
    }
}
