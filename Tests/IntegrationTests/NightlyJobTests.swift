import Foundation
import Posix
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The nightly job, night after night, on real processes, real HTTP and a real warehouse file:
/// each job continues where the warehouse stands, gives up within a bound, tells the truth in its
/// exit code, and a refused start changes nothing.
@Suite(.timeLimit(.minutes(3)))
struct NightlyJobTests {
    /// The simulator's executable, beside `cidp`.
    static let simulatorBinary = URL(fileURLWithPath: cidpBinary).deletingLastPathComponent()
        .appendingPathComponent("cidp-sensor-sim").path

    /// A standalone sensor simulator (`cidp-sensor-sim`) serving `records` on a free loopback port.
    static func simulator(_ sandbox: Sandbox, records: Int, extra: [String] = []) throws -> (RunningSupervisor, String) {
        let port = try Posix.freeLoopbackPort()
        let simulator = try RunningSupervisor(sandbox: sandbox, arguments: ["--port", "\(port)", "--records", "\(records)"] + extra,
                                              executable: simulatorBinary)
        #expect(poll { simulator.log.contains("Sensor simulator listening") || !simulator.isRunning }, "\(simulator.log)")
        return (simulator, "http://127.0.0.1:\(port)")
    }

    /// Stops a standalone process and waits for it.
    static func stop(_ process: RunningSupervisor) {
        kill(process.pid, SIGTERM)
        _ = process.waitForExit()
    }

    /// A job (`cidp up` without `--follow`) on the default policy into `db`.
    static func job(_ sandbox: Sandbox, db: String, _ extra: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
        try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                          "--log-level", "warning"] + extra, timeout: .seconds(120))
    }

    /// Rows of `fact_telemetry_features` in one warehouse and not in the other, both ways, compared
    /// by the `sqlite3` shell (an outside peer) on the stored values themselves: 0 means equal,
    /// value for value, rolling means included.
    static func differingRows(_ left: String, _ right: String) throws -> Int {
        // The record and its features; not `batch_id`, which says which load brought a row (the
        // same row comes in another batch when the pages were cut elsewhere).
        try differingRows(left, right, table: "fact_telemetry_features",
                          columns: "timestamp, pump_id, flow_rate, pressure, vibration, temperature, failure, "
                            + "vibration_rolling_mean, pressure_rolling_mean")
    }

    /// Rows of `table` (these `columns`) in one warehouse and not in the other, both ways, by the
    /// `sqlite3` shell.
    static func differingRows(_ left: String, _ right: String, table: String, columns: String) throws -> Int {
        let sql = """
            ATTACH '\(right)' AS other;
            SELECT (SELECT count(*) FROM (SELECT \(columns) FROM main.\(table)
                                          EXCEPT SELECT \(columns) FROM other.\(table)))
                 + (SELECT count(*) FROM (SELECT \(columns) FROM other.\(table)
                                          EXCEPT SELECT \(columns) FROM main.\(table)));
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = ["-readonly", left, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(Int(text), "sqlite3 said '\(text)'")
    }

    /// A single job of `records` from the built-in simulator into a warehouse of its own: the
    /// reference an incremental history must equal.
    static func singleJob(records: Int) throws -> (Sandbox, String) {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/single.sqlite"
        let run = try job(sandbox, db: db, ["--records", "\(records)"])
        #expect(run.code == 0, "\(run.stderr)")
        return (sandbox, db)
    }

    @Test func aSecondNightContinuesWhereTheWarehouseStandsAndEqualsOneJob() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        var (simulator, url) = try Self.simulator(sandbox, records: 5000)
        let first = try Self.job(sandbox, db: db, ["--source", url])
        #expect(first.code == 0, "\(first.stderr)")
        #expect(first.stdout.contains("this run loaded 5000 rows"), "\(first.stdout)")
        Self.stop(simulator)

        // The next night the source has grown: the same history and 3,000 more records.
        (simulator, url) = try Self.simulator(sandbox, records: 8000)
        defer { Self.stop(simulator) }
        let second = try Self.job(sandbox, db: db, ["--source", url])
        #expect(second.code == 0, "\(second.stderr)")
        #expect(second.stdout.contains("this run loaded 3000 rows"), "\(second.stdout)")
        #expect(second.stdout.contains("the warehouse holds 8000 rows"), "\(second.stdout)")
        // The second job trained on everything there is.
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).servingModel()?.rowCount == 8000)

        // Exactly what one job of 8,000 makes, stored value for value, and the independent computation.
        let (reference, single) = try Self.singleJob(records: 8000)
        #expect(try Self.differingRows(db, single) == 0)
        try EtlTests.checkWarehouse(db, count: 8000)
        withExtendedLifetime(reference) {}

        // A third night with nothing new loads nothing, trains nothing, and succeeds.
        let third = try Self.job(sandbox, db: db, ["--source", url])
        #expect(third.code == 0, "\(third.stderr)")
        #expect(third.stdout.contains("this run loaded 0 rows in 0 batches"), "\(third.stdout)")
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).listModels().count == 2)
    }

    @Test func aJobThenFollowThenAJobWithMoreRecordsEqualsOneJob() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try Self.job(sandbox, db: db, ["--records", "4500"])
        #expect(first.code == 0, "\(first.stderr)")

        // --follow after a job: the simulator grows from 4,500 records; full pages only are loaded.
        let follow = try sandbox.up(["--db", db, "--records", "4500", "--follow", "--sim-rate", "4000"])
        let grew = poll(timeout: .seconds(60)) { (try? Warehouse(path: db, busyTimeout: .seconds(1)).rowCount()) ?? 0 >= 9000 }
        #expect(grew, "\(follow.log.suffix(2000))")
        #expect(try follow.stop() == 0)   // `cidp stop` of --follow: exit 0

        // A job after --follow, with a larger --records: it loads the rest, the short last page
        // included. The follow run loads full pages until its stop lands, which on a loaded
        // machine is some pages past 9,000: the job asks for 3,500 records more than it left.
        let followed = try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount()
        #expect(followed >= 9000, "\(followed) rows after --follow")
        let total = Int(followed) + 3500
        let last = try Self.job(sandbox, db: db, ["--records", "\(total)"])
        #expect(last.code == 0, "\(last.stderr)")
        #expect(last.stdout.contains("the warehouse holds \(total) rows"), "\(last.stdout)")
        try EtlTests.checkWarehouse(db, count: total)
        let (reference, single) = try Self.singleJob(records: total)
        #expect(try Self.differingRows(db, single) == 0)
        withExtendedLifetime(reference) {}
    }

    @Test func aSourceWithFewerRecordsThanTheWarehouseIsOneLineNamingBothAndNothingLoaded() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try Self.job(sandbox, db: db, ["--records", "8000"])
        #expect(first.code == 0, "\(first.stderr)")
        for records in [5000, 7500] {
            let run = try Self.job(sandbox, db: db, ["--records", "\(records)"])
            #expect(run.code == 1, "\(run.stderr)")
            let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(line.hasPrefix("cidp: etl halted by extractor: the source has fewer records than the warehouse"), "\(line)")
            #expect(line.contains("the warehouse holds 8000 records from it"), "\(line)")
            #expect(line.contains(records == 5000 ? "(5000 records)" : "holds 500 records, where the warehouse took 1000"), "\(line)")
            #expect(run.stdout.contains("failed: this run loaded 0 rows"), "\(run.stdout)")
            #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount() == 8000)
        }
    }

    @Test func aSourceAnswering404OnEveryPageEndsTheJobWithinItsBoundNamingTheExtractor() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        // An HTTP server we did not write: Python's, answering 404 to everything.
        let script = """
            import http.server
            class NotFound(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = b'{"error": "no such collection"}'
                    self.send_response(404)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *args):
                    pass
            server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), NotFound)
            print('port', server.server_address[1], flush=True)
            server.serve_forever()
            """
        let (server, port) = try Self.pythonServer(sandbox, script)
        defer { Self.stop(server) }
        // policies/README.md: about 12 s of backoff and 24 starts; the deadline is four times that, not a timing assertion.
        let run = try Self.job(sandbox, db: sandbox.path + "/dwh.sqlite", ["--source", "http://127.0.0.1:\(port)"])
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.hasPrefix("cidp: giving up: "), "\(line)")
        #expect(line.contains("'extractor' exited (exit code 1: extractor: GET http://127.0.0.1:\(port)/v1/telemetry?limit=1000: "
            + "HTTP status 404: {\"error\": \"no such collection\"})"), "\(line)")
        #expect(line.contains("restarts of children of 'etl'") && line.contains("restarts of children of 'cidp'"), "\(line)")
    }

    /// Starts `python3 -c SCRIPT`, which prints `port N` once it listens. - Returns: the process and N.
    static func pythonServer(_ sandbox: Sandbox, _ script: String) throws -> (RunningSupervisor, Int) {
        let server = try RunningSupervisor(sandbox: sandbox, arguments: ["python3", "-c", script], executable: "/usr/bin/env")
        #expect(poll { server.log.contains("port ") }, "\(server.log)")
        let port = try #require(server.log.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        return (server, port)
    }

    @Test func aHostileNextCursorIsRefusedBeforeItReachesTheCheckpoint() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        // A page of one good record whose next_cursor is 2 KiB of text, or holds an escape sequence.
        let script = #"""
            import http.server, json, sys
            cursor = sys.argv[1]
            class Hostile(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = json.dumps({"records": [{"timestamp": "2001-01-01T00:00:00Z", "pump_id": "P_001",
                        "flow_rate": 500.0, "pressure": 5.0, "vibration": 2.0, "temperature": 45.0, "failure": 0}],
                        "next_cursor": cursor}).encode()
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *args):
                    pass
            server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Hostile)
            print('port', server.server_address[1], flush=True)
            server.serve_forever()
            """#
        for (cursor, problem) in [(String(repeating: "c", count: 2048), "is 2048 bytes long, over the 1024 the warehouse keeps"),
                                  ("next\u{1B}[2J", "has byte 0x1b at 4, outside printable ASCII")] {
            let server = try RunningSupervisor(sandbox: sandbox, arguments: ["python3", "-c", script, cursor], executable: "/usr/bin/env")
            defer { Self.stop(server) }
            #expect(poll { server.log.contains("port ") }, "\(server.log)")
            let port = try #require(server.log.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            let db = sandbox.path + "/hostile-\(cursor.count).sqlite"
            let run = try Self.job(sandbox, db: db, ["--source", "http://127.0.0.1:\(port)"])
            #expect(run.code == 1, "\(run.stderr.suffix(1000))")
            let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(line == "cidp: etl halted by extractor: gate 'record' refused the first page: its next_cursor \(problem)", "\(line)")
            #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).checkpoint() == nil, "the cursor reached the checkpoint")
        }
    }

    @Test func aSourceWithNothingListeningEndsTheJobAfterItsGiveUpDeadline() throws {
        let policy = try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.extractor]\nrole = \"extractor\"\n",
            with: "[workers.extractor]\nrole = \"extractor\"\ngive_up_after_s = 2\n")
        #expect(policy.contains("give_up_after_s = 2"))
        let sandbox = try Sandbox(policy: policy)
        let port = try Posix.freeLoopbackPort()   // nothing listens there
        let run = try Self.job(sandbox, db: sandbox.path + "/dwh.sqlite", ["--source", "http://127.0.0.1:\(port)"])
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.hasPrefix("cidp: etl halted by extractor: sensor API: "), "\(line)")
        #expect(line.contains("the source kept failing for 2 s (give_up_after)") && line.contains("connection refused"), "\(line)")
    }

    @Test func anInterruptedJobExitsThreeSayingSoAndTheNextOneFinishesIt() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        // A slow source: a fifth of a second per page, so the job is caught half-way.
        let supervisor = try sandbox.up(["--db", db, "--records", "20000", "--sim-fault", "latency=200"])
        #expect(poll(timeout: .seconds(60)) { (try? Warehouse(path: db, busyTimeout: .seconds(1)).rowCount()) ?? 0 >= 2000 })
        kill(supervisor.pid, SIGINT)
        let code = supervisor.waitForExit(timeout: .seconds(60))
        #expect(code == ExitCode.interrupted, "\(supervisor.log.suffix(2000))")
        let loaded = try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount()
        #expect(loaded < 20000)
        #expect(supervisor.log.contains("interrupted (the next run continues from here): this run loaded \(loaded) rows"),
                "\(supervisor.log.suffix(1000))")
        #expect(supervisor.log.contains("cidp: interrupted: stopped by SIGINT"), "\(supervisor.log.suffix(1000))")

        let next = try Self.job(sandbox, db: db, ["--records", "20000"])
        #expect(next.code == 0, "\(next.stderr)")
        #expect(next.stdout.contains("this run loaded \(20000 - loaded) rows"), "\(next.stdout)")
        try EtlTests.checkWarehouse(db, count: 20000)
    }
}
