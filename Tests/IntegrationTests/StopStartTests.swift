@testable import cidp
import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `cidp stop NAME` / `cidp start NAME` on a real `--follow` run of the default tree: which pids
/// change and which do not, what status says, and that the warehouse ends exactly the stream's
/// first records, value for value (EtlTests' independent computation).
@Suite(.timeLimit(.minutes(3)))
struct StopStartTests {
    func rowsLoaded(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path),
              let warehouse = try? Warehouse(readingOnly: path, busyTimeout: .milliseconds(100)) else { return 0 }
        return (try? warehouse.rowCount()) ?? 0
    }

    @Test func stoppingAndStartingEachStageLosesNothingAndTouchesOnlyWhatItsStrategyTies() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "5000", "--db", db],
                                        waitUntilReady: false)
        let control = ["--run-dir", sandbox.runDirectory]
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= 3_000 })
        let before = try supervisor.waitForAllRunning()

        // The loader, last of its rest_for_one chain: only it stops, and stays stopped.
        let stop = try sandbox.cidp(["stop", "loader"] + control)
        #expect(stop.code == 0, "\(stop.stderr)")
        var tree = try supervisor.status()
        #expect(tree.find("loader")?.state == "stopped" && tree.find("loader")?.pid == nil)
        #expect(tree.find("loader")?.reason?.contains("cidp start loader") == true, "\(String(describing: tree.find("loader")))")
        for name in ["sensor-sim", "extractor", "transformer", "trainer"] {
            #expect(tree.find(name)?.pid == before[name], "\(name)")
        }
        let held = rowsLoaded(db)
        // Held: neither a restart nor a second stop takes it out of the operator's hands.
        let restart = try sandbox.cidp(["restart", "loader"] + control)
        #expect(restart.code == 2 && restart.stderr.contains("cidp start loader"), "\(restart.stderr)")
        let again = try sandbox.cidp(["stop", "loader"] + control)
        #expect(again.code == 2 && again.stderr.contains("already stopped"), "\(again.stderr)")
        let notHeld = try sandbox.cidp(["start", "extractor"] + control)
        #expect(notHeld.code == 2, "\(notHeld.stderr)")
        let unknown = try sandbox.cidp(["stop", "no-such-worker"] + control)
        #expect(unknown.code == 2 && unknown.stderr.contains("no-such-worker"), "\(unknown.stderr)")
        #expect(rowsLoaded(db) == held, "a stopped loader committed")
        #expect(try supervisor.status().find("loader")?.state == "stopped")

        let start = try sandbox.cidp(["start", "loader"] + control)
        #expect(start.code == 0, "\(start.stderr)")
        tree = try supervisor.status()
        let loader = tree.find("loader")
        #expect(loader?.state == "running" && loader?.pid != nil && loader?.pid != before["loader"])
        #expect(loader?.restarts == 1, "a start by the operator is one more start of the worker")
        for name in ["sensor-sim", "extractor", "transformer"] {
            #expect(tree.find(name)?.pid == before[name], "\(name)")
        }
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= held + 3_000 })

        // The transformer: rest_for_one ties the loader after it; the extractor keeps its pid.
        let middle = try supervisor.pids()
        let stopMiddle = try sandbox.cidp(["stop", "transformer"] + control)
        #expect(stopMiddle.code == 0, "\(stopMiddle.stderr)")
        tree = try supervisor.status()
        #expect(tree.find("transformer")?.state == "stopped" && tree.find("loader")?.state == "stopped")
        #expect(tree.find("extractor")?.pid == middle["extractor"])
        // The loader is held by the transformer's stop: it starts with it, not on its own.
        let startLoader = try sandbox.cidp(["start", "loader"] + control)
        #expect(startLoader.code == 2 && startLoader.stderr.contains("cidp start transformer"), "\(startLoader.stderr)")
        let startMiddle = try sandbox.cidp(["start", "transformer"] + control)
        #expect(startMiddle.code == 0, "\(startMiddle.stderr)")
        let after = try supervisor.waitForAllRunning()
        #expect(after["extractor"] == middle["extractor"])
        #expect(after["transformer"] != middle["transformer"] && after["loader"] != middle["loader"])

        // The whole chain, as a node.
        let rows = rowsLoaded(db)
        let stopNode = try sandbox.cidp(["stop", "etl"] + control)
        #expect(stopNode.code == 0, "\(stopNode.stderr)")
        tree = try supervisor.status()
        #expect(["etl", "extractor", "transformer", "loader"].allSatisfy { tree.find($0)?.state == "stopped" },
                "\(tree.renderTable())")
        #expect(tree.find("sensor-sim")?.pid == before["sensor-sim"] && tree.find("trainer")?.pid == before["trainer"])
        let startNode = try sandbox.cidp(["start", "etl"] + control)
        #expect(startNode.code == 0, "\(startNode.stderr)")
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= rows + 3_000 })

        // Operator stops are not failures: no give-up, and the tree stops cleanly.
        let shutdown = try sandbox.cidp(["stop"] + control)
        #expect(shutdown.code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(3000))")
        try EtlTests.checkWarehouse(db, count: Int(rowsLoaded(db)))
    }
}
