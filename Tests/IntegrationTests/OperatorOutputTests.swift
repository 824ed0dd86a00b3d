import Foundation
import OperatorText
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10, "Operator output can be forged by the data": a sensor API serves a pump id holding a
/// newline, a fake log line and escape sequences; the record gate quarantines its batch and halts
/// the chain. Everything an operator reads of it — the exit line of `cidp up`, its console log,
/// `cidp quarantine`, `cidp quarantine --batch`, `cidp status` and `--json` — shows the text
/// escaped, never a raw control character, and JSON stays JSON that parses back to the exact text.
@Suite(.timeLimit(.minutes(2)))
struct OperatorOutputTests {
    /// A fake line of our own log, a terminal title, a bell, an 8-bit CSI and a right-to-left override.
    static let forgedPumpID = "P_001\n12:00:00.000 NOTICE cidp.supervisor: Supervisor stopped exit.code=0"
        + "\u{1B}[2K\u{1B}]0;pwned\u{07}\u{9B}31m\u{202E}"

    /// Python's HTTP server, serving one page: a clean record, then one with the forged pump id.
    static let serverScript = """
        import http.server, json
        forged = \(try! String(decoding: JSONEncoder().encode(forgedPumpID), as: UTF8.self))
        record = {"timestamp": "2000-01-01T00:00:00Z", "flow_rate": 500.0, "pressure": 5.0, "vibration": 2.0,
                  "temperature": 45.0, "failure": 0}
        page = {"records": [dict(record, pump_id="P_002"), dict(record, pump_id=forged)], "next_cursor": None}
        body = json.dumps(page).encode()
        class Source(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
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

    /// The characters of `output` that would reach the terminal raw (line ends aside).
    static func rawControls(_ output: String) -> [String] {
        output.unicodeScalars.filter { $0 != "\n" && OperatorText.mustEscape($0) }.map { "U+" + String($0.value, radix: 16) }
    }

    /// No raw control character, and no line of ours forged: no output line starts with the fake one.
    static func expectSafe(_ output: String, _ what: String, pumpID: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(rawControls(output).isEmpty, "\(what): raw \(rawControls(output)) in \(output.debugDescription)",
                sourceLocation: sourceLocation)
        #expect(!output.split(separator: "\n").contains { $0.hasPrefix("12:00:00.000 NOTICE") },
                "\(what): a forged line: \(output)", sourceLocation: sourceLocation)
        guard pumpID else { return }
        #expect(output.contains(#"P_001\n12:00:00.000 NOTICE cidp.supervisor: Supervisor stopped exit.code=0\u001b[2K\u001b]0;pwned\u0007\u009b31m\u202e"#),
                "\(what): the pump id is not shown escaped: \(output)", sourceLocation: sourceLocation)
    }

    @Test func aPumpIDWithNewlinesAndEscapesIsShownEscapedEverywhereAnOperatorReadsIt() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let server = try RunningSupervisor(sandbox: sandbox, arguments: ["python3", "-c", Self.serverScript], executable: "/usr/bin/env")
        // SIGKILL: nothing to stop in order, and it may have inherited SIGTERM blocked from the test process.
        defer { kill(server.pid, SIGKILL); _ = server.waitForExit() }
        #expect(poll { server.log.contains("port ") }, "\(server.log)")
        let port = try #require(server.log.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        let db = sandbox.path + "/dwh.sqlite"
        let source = ["--source", "http://127.0.0.1:\(port)"]

        // The job: the record gate quarantines the batch and halts; the exit line quotes the pump id.
        let job = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--log-level", "warning"] + source, timeout: .seconds(60))
        #expect(job.code == 1, "\(job.stderr)")
        let exitLine = job.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(exitLine.hasPrefix("cidp: etl halted by transformer: gate 'record' quarantined batch 1: record 1 (pump P_001\\n"),
                "\(exitLine)")
        Self.expectSafe(exitLine, "the exit line")
        Self.expectSafe(job.stderr, "the console of cidp up")

        let list = try sandbox.cidp(["quarantine", "--db", db])
        #expect(list.code == 0, "\(list.stderr)")
        Self.expectSafe(list.stdout, "cidp quarantine")
        // A header, the batch's row, the open-halt note: the pump id's newline made no line of its own.
        #expect(list.stdout.split(separator: "\n").count == 3, "\(list.stdout)")

        let batch = try sandbox.cidp(["quarantine", "--db", db, "--batch", "1"])
        #expect(batch.code == 0, "\(batch.stderr)")
        #expect(Self.rawControls(batch.stdout).isEmpty, "\(batch.stdout.debugDescription)")
        #expect(batch.stdout.split(separator: "\n").count == 3, "\(batch.stdout)")
        #expect(batch.stdout.split(separator: "\n")[1].hasPrefix(#"reason: record 1 (pump P_001\n12:00:00.000"#), "\(batch.stdout)")
        // The records stay JSON, escaped once: parsed, the pump id is exactly what the source sent.
        let recordsLine = try #require(batch.stdout.split(separator: "\n").last)
        let records = try #require(try JSONSerialization.jsonObject(with: Data(recordsLine.utf8)) as? [[String: Any]])
        #expect(records.map { $0["pump_id"] as? String } == ["P_002", Self.forgedPumpID])

        // A running tree held down by the halt: `cidp status` shows the reason escaped, `--json` exactly.
        let supervisor = try sandbox.up(["--db", db, "--follow"] + source)
        defer { _ = try? supervisor.stop() }
        #expect(supervisor.waitForStatus { $0.find("etl")?.state == "halted" }, "\(supervisor.statusTable)")
        let status = try sandbox.cidp(["status", "--run-dir", sandbox.runDirectory])
        #expect(status.code == 0, "\(status.stderr)")
        Self.expectSafe(status.stdout, "cidp status")
        let tree = try #require(supervisor.statusIfRunning())
        #expect(status.stdout.split(separator: "\n").count == 1 + tree.count, "one line per element: \(status.stdout)")

        let json = try sandbox.cidp(["status", "--json", "--run-dir", sandbox.runDirectory])
        #expect(json.code == 0, "\(json.stderr)")
        #expect(Self.rawControls(json.stdout).isEmpty, "\(json.stdout.debugDescription)")
        #expect(!json.stdout.contains(#"\\n"#) && !json.stdout.contains(#"\\u"#), "escaped twice: \(json.stdout)")
        let decoded = try JSONDecoder().decode(StatusTree.self, from: Data(json.stdout.utf8))
        let reason = try #require(decoded.find("etl")?.reason)
        #expect(reason.contains("pump id '\(Self.forgedPumpID)' does not match the pattern"), "\(reason.debugDescription)")
        Self.expectSafe(supervisor.log, "the console of cidp up --follow")
    }
}

extension OperatorOutputTests {
    /// `cidp models` prints each model's reason (the promotion guard's) through the same table
    /// printer: a reason holding a newline and escape sequences is shown escaped, on its row.
    @Test func aModelReasonWithControlCharactersIsShownEscapedByCidpModels() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let job = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory, "--db", db,
                                    "--records", "2000", "--log-level", "warning"], timeout: .seconds(90))
        #expect(job.code == 0, "\(job.stderr.suffix(2000))")
        // As if a guard had quoted what the world wrote.
        try Database(path: db, busyTimeout: .seconds(5)).execute("""
            UPDATE ml_models SET reason = 'guard: ' || char(10) || '12:00:00.000 NOTICE cidp.supervisor: Supervisor stopped '
                || 'exit.code=0' || char(27) || '[2J' || char(7)
            """)
        let models = try sandbox.cidp(["models", "--db", db])
        #expect(models.code == 0, "\(models.stderr)")
        Self.expectSafe(models.stdout, "cidp models", pumpID: false)
        #expect(models.stdout.contains(#"guard: \n12:00:00.000 NOTICE cidp.supervisor: Supervisor stopped exit.code=0\u001b[2J\u0007"#),
                "\(models.stdout)")
        // The models' table is a header and the model's row; after a blank line the serving
        // model's calibration (its own table, written by CIDP, no reason in it).
        let tables = models.stdout.components(separatedBy: "\n\n")
        #expect(tables.count == 2, "the models' table, then the calibration's: \(models.stdout)")
        #expect(tables[0].split(separator: "\n").count == 2, "a header and the model's row: \(models.stdout)")
        #expect(tables.last?.hasPrefix("calibration of version 1: ") == true, "\(models.stdout)")
    }
}

extension StatusTree {
    /// The number of elements (nodes and workers) in the tree.
    var count: Int { 1 + (children ?? []).reduce(0) { $0 + $1.count } }
}
