import CSQLite
import Foundation
import Supervisor
import Testing
import Pipeline
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The ETL chain end to end: the simulator over real HTTP, the extractor through libcurl, the
/// transformer, the loader into a real SQLite file — with crashes, an outage and a locked
/// warehouse along the way. Every run is checked row for row against an independent computation.
@Suite(.timeLimit(.minutes(3)))
struct EtlTests {
    static let seed: UInt64 = 42

    /// The fact table a correct run must produce for `count` records: the simulator's records
    /// with rolling means computed here by brute force (the mean of the pump's last three readings).
    /// Records whose index is in `skipped` never entered the chain (a quarantined batch).
    static func expectedRows(count: Int, skipping skipped: Range<Int> = 0..<0) -> [TelemetryRecord] {
        let generator = TelemetryGenerator(seed: seed, count: count)
        var history: [String: [(vibration: Double, pressure: Double)]] = [:]
        var rows: [TelemetryRecord] = []
        for index in 0..<count where !skipped.contains(index) {
            var record = generator.record(at: index)
            history[record.pumpID, default: []].append((record.vibration, record.pressure))
            let window = history[record.pumpID]!.suffix(3)
            record.vibrationRollingMean = window.map(\.vibration).reduce(0, +) / Double(window.count)
            record.pressureRollingMean = window.map(\.pressure).reduce(0, +) / Double(window.count)
            rows.append(record)
        }
        return rows.sorted { ($0.pumpID, $0.timestamp) < ($1.pumpID, $1.timestamp) }
    }

    /// Compares the warehouse with `expectedRows`: readings exactly, rolling means to 1e-12.
    static func checkWarehouse(_ path: String, count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rows = try Warehouse(path: path, busyTimeout: .seconds(5)).rows()
        let expected = expectedRows(count: count)
        #expect(rows.count == count, "rows in the warehouse", sourceLocation: sourceLocation)
        var mismatches = 0
        for (row, want) in zip(rows, expected) {
            let same = row.pumpID == want.pumpID && row.timestamp == want.timestamp
                && row.flowRate == want.flowRate && row.pressure == want.pressure
                && row.vibration == want.vibration && row.temperature == want.temperature
                && row.failure == want.failure
                && abs((row.vibrationRollingMean ?? .nan) - want.vibrationRollingMean!) <= 1e-12 * abs(want.vibrationRollingMean!)
                && abs((row.pressureRollingMean ?? .nan) - want.pressureRollingMean!) <= 1e-12 * abs(want.pressureRollingMean!)
            if !same {
                mismatches += 1
                if mismatches <= 3 { Issue.record("row differs: \(row) expected \(want)", sourceLocation: sourceLocation) }
            }
        }
        #expect(mismatches == 0, "\(mismatches) rows differ", sourceLocation: sourceLocation)
    }

    /// The default policy, copied into the sandbox.
    static func defaultPolicy() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("policies/default.toml"), encoding: .utf8)
    }

    func rowsLoaded(_ path: String) -> Int64 {
        guard FileManager.default.fileExists(atPath: path),
              let warehouse = try? Warehouse(readingOnly: path, busyTimeout: .milliseconds(100)) else { return 0 }
        return (try? warehouse.rowCount()) ?? 0
    }

    @Test func aRunLoadsEveryRecordOnceWithItsRollingMeans() throws {
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--records", "50000", "--db", db], waitUntilReady: false)
        #expect(supervisor.waitForExit(timeout: .seconds(150)) == 0, "\(supervisor.log.suffix(3000))")
        try Self.checkWarehouse(db, count: 50_000)
    }

    @Test func killingEveryRoleAtRandomMomentsChangesNoRow() throws {
        // A growing source (--follow), so the chain is busy whenever a kill lands.
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "10000", "--db", db],
                                        waitUntilReady: false)
        // Every role twice, in a seeded order, at seeded moments (row counts of the warehouse).
        var generator = SeededGenerator(seed: 7)
        let roles = (["sensor-sim", "extractor", "transformer", "loader"] + ["sensor-sim", "extractor", "transformer", "loader"])
            .shuffled(using: &generator)
        let moments = roles.map { _ in Int64.random(in: 1_000...40_000, using: &generator) }.sorted()
        var killed: [String] = []
        for (role, moment) in zip(roles, moments) {
            guard poll(timeout: .seconds(120), { rowsLoaded(db) >= moment }) else { break }
            // Kill the role's running process; if it is being restarted (an earlier kill, or
            // rest_for_one taking it down with a sibling), wait for the new one and kill that.
            let landed = poll(timeout: .seconds(30)) {
                guard let pid = (try? supervisor.status().find(role)).flatMap({ $0.state == "running" ? $0.pid : nil })
                else { return false }
                return kill(pid, SIGKILL) == 0
            }
            if landed { killed.append(role) }
        }
        #expect(killed.count == 8, "kills that landed: \(killed)")
        // The chain goes on past the last kill, then stops in order.
        let last = rowsLoaded(db)
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= last + 5_000 })
        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(3000))")
        // Exactly the first records of the stream, each once, value for value.
        try Self.checkWarehouse(db, count: Int(rowsLoaded(db)))
    }

    @Test func killingTheLoaderLeavesTheExtractorAndTransformerRunning() throws {
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "5000", "--db", db],
                                        waitUntilReady: false)
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= 5_000 })
        let before = try supervisor.waitForAllRunning()
        kill(try #require(before["loader"]), SIGKILL)
        #expect(poll(timeout: .seconds(60)) {
            guard let tree = try? supervisor.status(), let loader = tree.find("loader") else { return false }
            return loader.pid != nil && loader.pid != before["loader"] && loader.state == "running"
        })
        let after = try supervisor.pids()
        #expect(after["extractor"] == before["extractor"])
        #expect(after["transformer"] == before["transformer"])
        // The chain goes on with the new loader.
        let rows = rowsLoaded(db)
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= rows + 5_000 })
        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(3000))")
        try Self.checkWarehouse(db, count: Int(rowsLoaded(db)))
    }

    @Test func anUnreachableAPIMakesTheExtractorDegradedNotACrashLoop() throws {
        let count = 5_000
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--records", "\(count)", "--db", db, "--sim-fault", "outage=5"], waitUntilReady: false)
        let degraded = poll(timeout: .seconds(30)) {
            (try? supervisor.status().find("extractor")?.state) == "degraded"
        }
        #expect(degraded, "the extractor was never seen degraded")
        // Once the API is back the extractor is healthy again — the same process throughout.
        var restarts: Int?
        let recovered = poll(timeout: .seconds(30)) {
            guard let extractor = try? supervisor.status().find("extractor") else { return !supervisor.isRunning }
            restarts = extractor.restarts
            return extractor.state == "running"
        }
        #expect(recovered)
        #expect(restarts == 0, "the extractor was restarted during the outage")
        #expect(supervisor.waitForExit(timeout: .seconds(120)) == 0, "\(supervisor.log.suffix(3000))")
        try Self.checkWarehouse(db, count: count)
    }

    @Test func aWarehouseLockedFromOutsideIsWaitedOutWithoutLosingARow() throws {
        // A source that keeps growing, so the loader is certainly committing when the lock comes.
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "5000", "--db", db],
                                        waitUntilReady: false)
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= 3_000 })
        // Another connection takes the write lock for five seconds, as an operator's tool might.
        var connection: OpaquePointer?
        #expect(sqlite3_open(db, &connection) == SQLITE_OK)
        // The loader commits all the time: wait for its transaction to end, as a real tool would.
        sqlite3_busy_timeout(connection, 30_000)
        #expect(sqlite3_exec(connection, "BEGIN EXCLUSIVE", nil, nil, nil) == SQLITE_OK)
        let locked = ContinuousClock.now
        let rowsAtLock = rowsLoaded(db)
        let sawDegraded = poll(timeout: .seconds(5)) { (try? supervisor.status().find("loader")?.state) == "degraded" }
        while ContinuousClock.now - locked < .seconds(5) { usleep(10_000) }  // the scenario: hold the lock 5 s
        #expect(sqlite3_exec(connection, "COMMIT", nil, nil, nil) == SQLITE_OK)
        sqlite3_close(connection)
        #expect(sawDegraded, "the loader never reported the lock")
        // Once released, the chain catches up: more rows, the loader healthy, the same pids.
        #expect(poll(timeout: .seconds(60)) {
            rowsLoaded(db) > rowsAtLock + 5_000 && (try? supervisor.status().find("loader")?.state) == "running"
        })
        #expect((try? supervisor.status().find("loader")?.restarts) == 0, "the loader was restarted")
        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0)
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(3000))")
        try Self.checkWarehouse(db, count: Int(rowsLoaded(db)))
    }

    @Test func followKeepsLoadingAGrowingSourceUntilStopped() throws {
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "1000", "--sim-rate", "1000", "--db", db],
                                        waitUntilReady: false)
        // More than the initial records arrive: the source grows and the chain keeps up.
        #expect(poll(timeout: .seconds(60)) { rowsLoaded(db) >= 3_000 }, "\(supervisor.log.suffix(2000))")
        #expect(supervisor.isRunning, "a --follow run ended by itself")
        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0)
        // The table holds exactly the first records of the stream, each once, with its means.
        let count = Int(rowsLoaded(db))
        try Self.checkWarehouse(db, count: count)
    }

    @Test func malformedAPIBodiesAreRetriedAndNeverLoaded() throws {
        let count = 10_000
        let sandbox = try Sandbox(policy: try Self.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--records", "\(count)", "--db", db, "--sim-fault", "malformed=0.3",
                                         "--sim-fault", "http500=0.2"], waitUntilReady: false)
        #expect(supervisor.waitForExit(timeout: .seconds(120)) == 0, "\(supervisor.log.suffix(3000))")
        try Self.checkWarehouse(db, count: count)
    }
}

/// SplitMix64, for seeded kill moments.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A warehouse that cannot be used is a configuration error: one line, exit 2, nothing started.
@Suite(.timeLimit(.minutes(1)))
struct WarehouseCommandLineTests {
    @Test func anUnusableWarehouseIsRefusedBeforeAnythingStarts() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let notADatabase = sandbox.path + "/notes.sqlite"
        try "not a database, just notes\n".write(toFile: notADatabase, atomically: true, encoding: .utf8)
        for (db, expected) in [(notADatabase, "is not an SQLite database"), ("/proc/cidp/dwh.sqlite", "/proc/cidp")] {
            let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db])
            #expect(run.code == 2, "\(db): \(run.stderr)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("cidp: --db: ") && lines[0].contains(expected), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: sandbox.runDirectory + "/cidp.sock"))
        }
        // The file that was not a database is left as it was.
        #expect(try String(contentsOfFile: notADatabase, encoding: .utf8) == "not a database, just notes\n")
    }
}
