import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10: "A duplicate across pages whose `flow_rate`, `temperature` or `failure` differ is
/// counted as an *exact* duplicate and dropped (only vibration and pressure are compared)."
/// Through the real job on a real HTTP source (Python's server, two pages of two records): the
/// second page repeats pump P_002's record of the first with one field changed, and the record
/// gate's verdict — quarantine and halt — is what follows; an exact repeat is dropped and counted.
@Suite(.timeLimit(.minutes(2)))
struct CrossPageDuplicateTests {
    /// Serves page 1 (no cursor) and page 2 (`cursor=2`); the repeat's fields come as a JSON
    /// object in argv[1], merged over P_002's record of page 1.
    static let serverScript = """
        import http.server, json, sys, urllib.parse
        def record(pump, hour, **changes):
            r = {"timestamp": "2000-01-01T%02d:00:00Z" % hour, "pump_id": pump, "flow_rate": 500.0,
                 "pressure": 5.0, "vibration": 2.0, "temperature": 45.0, "failure": 0}
            r.update(changes)
            return r
        pages = {
            None: {"records": [record("P_001", 0), record("P_002", 0)], "next_cursor": "2"},
            "2": {"records": [record("P_002", 0, **json.loads(sys.argv[1])), record("P_001", 1)], "next_cursor": None},
        }
        class Source(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                body = json.dumps(pages[query.get("cursor", [None])[0]]).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Source)
        print('port', server.server_address[1], flush=True)
        server.serve_forever()
        """

    /// Runs the job against the two pages, the repeat changed by `changes`; returns its exit code,
    /// its last stderr line and the warehouse.
    static func job(repeatChanging changes: String) throws -> (code: Int32, line: String, stdout: String, db: String, sandbox: Sandbox) {
        let policy = try EtlTests.defaultPolicy().replacingOccurrences(
            of: "[workers.extractor]\nrole = \"extractor\"\n",
            with: "[workers.extractor]\nrole = \"extractor\"\npage_size = 2\n")
        #expect(policy.contains("page_size = 2"))
        let sandbox = try Sandbox(policy: policy)
        let server = try RunningSupervisor(sandbox: sandbox, arguments: ["python3", "-c", serverScript, changes],
                                           executable: "/usr/bin/env")
        // SIGKILL: nothing to stop in order, and it may have inherited SIGTERM blocked from the test process.
        defer { kill(server.pid, SIGKILL); _ = server.waitForExit() }
        #expect(poll { server.log.contains("port ") }, "\(server.log)")
        let port = try #require(server.log.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        let db = sandbox.path + "/dwh.sqlite"
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--log-level", "warning", "--source", "http://127.0.0.1:\(port)"], timeout: .seconds(60))
        return (run.code, run.stderr.split(separator: "\n").last.map(String.init) ?? "", run.stdout, db, sandbox)
    }

    @Test(arguments: [
        (#"{"flow_rate": 501.0}"#, "flow_rate 501.0 vs 500.0"),
        (#"{"temperature": 44.5}"#, "temperature 44.5 vs 45.0"),
        (#"{"failure": 1}"#, "failure 1 vs 0"),
    ])
    func aRepeatOnTheNextPageDifferingInOneFieldGetsTheRecordGatesVerdict(_ changes: String, _ difference: String) throws {
        let run = try Self.job(repeatChanging: changes)
        #expect(run.code == 1, "\(run.line)")
        #expect(run.line == "cidp: etl halted by transformer: gate 'record' quarantined batch 2: record 0 (pump P_002 at "
            + "2000-01-01 00:00:00): pump P_002 at 2000-01-01 00:00:00 again with other values (\(difference) accepted in an "
            + "earlier batch)", "\(run.line)")
        let warehouse = try Warehouse(path: run.db, busyTimeout: .seconds(5))
        #expect(try warehouse.rowCount() == 2)
        let quarantined = try warehouse.quarantine(limit: 10)
        #expect(quarantined.map(\.batchID) == [2] && quarantined.first?.recordCount == 2)
        #expect(quarantined.first?.reason.contains("(\(difference) accepted in an earlier batch)") == true)
    }

    @Test func anExactRepeatOnTheNextPageIsDroppedAndCounted() throws {
        let run = try Self.job(repeatChanging: "{}")
        #expect(run.code == 0, "\(run.line)")
        #expect(run.stdout.contains("this run loaded 3 rows in 2 batches (1 dropped: missing readings, exact duplicates)"),
                "\(run.stdout)")
        let warehouse = try Warehouse(path: run.db, busyTimeout: .seconds(5))
        #expect(try warehouse.rowCount() == 3)
        #expect(try warehouse.checkpoint()?.rowsDropped == 1)
        #expect(try warehouse.quarantine(limit: 10).isEmpty)
    }
}
