import Foundation
import Posix
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The `predictor` worker over real HTTP through a running `cidp up` tree (issue 13, item 7):
/// its answers for warehouse rows are the trainer's scores for them, a promotion during a stream
/// of requests fails none, 400 and 503 say why, a `kill -9` is restarted, and a job leaves it out.
@Suite(.timeLimit(.minutes(3)))
struct PredictorServingTests {
    /// The default policy with the predictor on `port` (tests run in parallel: never the fixed
    /// 9465), metrics off, and a quick trainer (10 trees, no backups, retraining every `retrainRows`).
    static func policy(port: UInt16, retrainRows: Int = 10_000) throws -> String {
        var policy = try EtlTests.defaultPolicy()
        for (old, new) in [
            ("# listen = \"127.0.0.1:9465\"", "listen = \"127.0.0.1:\(port)\""),
            ("# listen = \"127.0.0.1:9464\"", "listen = \"\""),
            ("[workers.trainer]\nrole = \"trainer\"\n",
             "[workers.trainer]\nrole = \"trainer\"\ntrees = 10\nbackup_keep = 0\nretrain_rows = \(retrainRows)\npromotion_margin = 1\n"),
        ] {
            #expect(policy.contains(old), "policies/default.toml changed: no \(old)")
            policy = policy.replacingOccurrences(of: old, with: new)
        }
        return policy
    }

    /// A tree of the predictor alone (a serving-only policy: no loader, no trainer, so not a job).
    static func servingOnlyPolicy(port: UInt16) -> String {
        """
        [supervisor]
        children = ["ml"]

        [metrics]
        listen = ""

        [nodes.ml]
        children = ["predictor"]

        [workers.predictor]
        role = "predictor"
        listen = "127.0.0.1:\(port)"
        """
    }

    /// The serving version in `/health`, nil when none (or no answer).
    static func healthVersion(_ port: UInt16) -> Int64? {
        guard let reply = try? http(port: port, method: "GET", path: "/health"), reply.status == 200,
              let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any] else { return nil }
        return (object["model_version"] as? NSNumber)?.int64Value
    }

    @Test func answersAreTheTrainersScoresAndAPromotionFailsNoRequest() throws {
        let port = try Posix.freeLoopbackPort()
        let sandbox = try Sandbox(policy: try Self.policy(port: port, retrainRows: 1500))
        let db = sandbox.path + "/dwh.sqlite"
        // The realistic profile: the calibrated risk differs from the model's own probability, and
        // the decision (that probability >= 0.5) from the risk's, so both are checked for real.
        let supervisor = try sandbox.up(["--follow", "--records", "3000", "--sim-rate", "300", "--sim-profile", "realistic",
                                         "--db", db])
        #expect(poll(timeout: .seconds(60)) { Self.healthVersion(port) != nil }, "no model served: \(supervisor.log.suffix(2000))")

        // Rows the trainer scored, sent with their rolling means and again without: both answers
        // are the stored score, the calibrated risk and the model's decision. A promotion between
        // the read and the request is retried.
        var compared = false
        let matched = poll(timeout: .seconds(60)) {
            guard let (version, rows) = try? ScoredRows.read(db), !rows.isEmpty else { return false }
            let body = "[" + (rows.map { $0.json(withMeans: true) } + rows.map { $0.json(withMeans: false) })
                .joined(separator: ",") + "]"
            guard let reply = try? Self.http(port: port, method: "POST", path: "/v1/predict", body: body),
                  reply.status == 200,
                  let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
                  let predictions = object["predictions"] as? [[String: Any]],
                  (object["model_version"] as? NSNumber)?.int64Value == version else { return false }
            #expect(predictions.count == rows.count * 2)
            for (index, prediction) in predictions.enumerated() {
                let row = rows[index % rows.count]
                let risk = (prediction["risk_probability"] as? NSNumber)?.doubleValue ?? -1
                // ai_risk_score_percent is the risk ×100 rounded to two decimals.
                #expect(abs(risk - row.percent / 100) <= 0.00005 + 1e-12, "row \(row.pumpID) \(row.timestamp) #\(index)")
                // The model's own decision (uncalibrated probability >= 0.5), not the risk's.
                #expect((prediction["critical_risk"] as? NSNumber)?.intValue == row.predictedFailure,
                        "row \(row.pumpID) \(row.timestamp) #\(index)")
                #expect((prediction["model_version"] as? NSNumber)?.int64Value == version)
            }
            // Flagged rows whose calibrated risk is under 0.5 were among those compared.
            #expect(rows.contains { $0.predictedFailure == 1 && $0.percent < 50 },
                    "no flagged row with a calibrated risk under 50 %: \(rows.map { ($0.percent, $0.predictedFailure) })")
            compared = true
            return true
        }
        #expect(matched && compared, "no answer for a stable model: \(supervisor.log.suffix(2000))")

        // A stream of requests while the trainer promotes new models (the source keeps growing).
        let stream = RequestStream(port: port)
        let firstVersion = try #require(Self.healthVersion(port))
        let promoted = poll(timeout: .seconds(90)) {
            guard let serving = try? ScoredRows.servingVersion(db), serving > firstVersion else { return false }
            return stream.versions.contains(serving)
        }
        stream.stop()
        #expect(promoted, "no promotion reached the answers: \(supervisor.log.suffix(2000))")
        #expect(stream.failures.isEmpty, "requests failed during the promotion: \(stream.failures.prefix(5))")
        #expect(stream.versions.count > 10)
        #expect(stream.versions == stream.versions.sorted(), "an answer went back to an older model")

        // kill -9: the ml node restarts it, and it serves again.
        let pid = try #require(try supervisor.pids()["predictor"])
        kill(pid, SIGKILL)
        let restarted = poll(timeout: .seconds(30)) {
            guard let now = try? supervisor.pids()["predictor"], now != pid else { return false }
            return Self.healthVersion(port) != nil
        }
        #expect(restarted, "the predictor was not restarted: \(supervisor.statusTable)")
        #expect(try supervisor.stop() == 0)
    }

    @Test func withoutAModelAnswers503AndBadInputIs400NamingTheField() throws {
        let port = try Posix.freeLoopbackPort()
        let sandbox = try Sandbox(policy: Self.servingOnlyPolicy(port: port))
        let supervisor = try sandbox.up(["--db", sandbox.path + "/none.sqlite"])
        let health = try Self.http(port: port, method: "GET", path: "/health")
        #expect(health.status == 200 && health.body.contains(#""model_version":null"#), "\(health)")
        let reading = #"{"pump_id":"P_001","timestamp":"2024-01-01T00:00:00.5+01:00","flow_rate":500,"pressure":5,"vibration":2,"temperature":45}"#
        let noModel = try Self.http(port: port, method: "POST", path: "/v1/predict", body: reading)
        #expect(noModel.status == 503 && noModel.body.contains(#""error":"no_model""#)
                && noModel.body.contains("does not exist yet"), "\(noModel)")
        let bad = reading.replacingOccurrences(of: #""vibration":2"#, with: #""vibration":"loud""#)
        let badOne = try Self.http(port: port, method: "POST", path: "/v1/predict", body: "[\(reading),\(bad)]")
        #expect(badOne.status == 400 && badOne.body.contains(#""field":"vibration""#) && badOne.body.contains(#""index":1"#)
                && badOne.body.contains("readings[1].vibration"), "\(badOne)")
        for hostile in ["", "not json", String(repeating: "[", count: 100_000), "{\"pump_id\":\"\u{1b}[2J\"}",
                        String(repeating: "{\"a\":", count: 50)] {
            let reply = try Self.http(port: port, method: "POST", path: "/v1/predict", body: hostile)
            #expect(reply.status == 400, "\(hostile.prefix(20)): \(reply)")
        }
        let huge = try Self.http(port: port, method: "POST", path: "/v1/predict",
                                 body: "[" + String(repeating: reading + ",", count: 12_000) + reading + "]")
        #expect(huge.status == 413, "\(huge.status) \(huge.body.prefix(200))")
        #expect(try Self.http(port: port, method: "GET", path: "/v1/predict").status == 405)
        #expect(supervisor.isRunning)
        #expect(try supervisor.stop() == 0)
    }

    @Test func aJobLeavesThePredictorOutAndEndsWithZero() throws {
        let port = try Posix.freeLoopbackPort()
        let sandbox = try Sandbox(policy: try Self.policy(port: port))
        let supervisor = try sandbox.up(["--records", "2000", "--db", sandbox.path + "/dwh.sqlite"], waitUntilReady: false)
        #expect(supervisor.waitForExit(timeout: .seconds(120)) == 0, "\(supervisor.log.suffix(2000))")
        #expect(!supervisor.log.contains("predictor"), "\(supervisor.log.suffix(2000))")
    }

    @Test func aTakenOrMalformedAddressIsRefusedAtStartWithOneLine() throws {
        let (fd, port) = try Posix.listenTCP(host: "127.0.0.1", port: 0)
        defer { Posix.close(fd) }
        for (policy, expected) in [
            (Self.servingOnlyPolicy(port: port), "workers.predictor.listen \"127.0.0.1:\(port)\": cannot listen there"),
            (Self.servingOnlyPolicy(port: port).replacingOccurrences(of: "127.0.0.1:\(port)", with: "0.0.0.0:80"),
             "not a loopback address"),
            (Self.servingOnlyPolicy(port: port).replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1"), "no ':PORT'"),
        ] {
            let sandbox = try Sandbox(policy: policy)
            let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                        "--db", sandbox.path + "/dwh.sqlite"])
            let lines = run.stderr.split(separator: "\n")
            #expect(run.code == 2 && lines.count == 1 && lines[0].contains(expected), "\(run.code): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: sandbox.runDirectory))
        }
    }

    @Test func aTakenDefaultAddressIsOneWarningAndTheTreeRuns() throws {
        // Held here, or (when this bind fails) by another tree on this machine: taken either way.
        let holder = try? Posix.listenTCP(host: "127.0.0.1", port: 9465)
        defer { if let holder { Posix.close(holder.fd) } }
        let policy = Self.servingOnlyPolicy(port: 9465).replacingOccurrences(of: "listen = \"127.0.0.1:9465\"", with: "")
        #expect(!policy.contains("9465"))
        let sandbox = try Sandbox(policy: policy)
        let supervisor = try sandbox.up(["--db", sandbox.path + "/none.sqlite"])
        #expect(poll { supervisor.log.contains("Predictor not serving: its default address is taken") }, "\(supervisor.log)")
        #expect(supervisor.statusIfRunning()?.find("predictor")?.state == "running", "\(supervisor.statusTable)")
        #expect(try supervisor.stop() == 0)
    }

    /// One HTTP/1.1 request to 127.0.0.1:`port` with `Connection: close`, read to the server's close.
    static func http(port: UInt16, method: String, path: String, body: String = "") throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Errno.current }
        let payload = Array(body.utf8)
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n".utf8)
            + Array("Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n".utf8) + payload
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // The server may answer 413 and close before the whole body is sent.
            if count <= 0 { break }
            sent += count
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { throw Errno(rawValue: EPROTO) }
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, String(text[headEnd.upperBound...]))
    }
}

/// Rows of `ai_telemetry_predictions` with their features, read in one snapshot.
struct ScoredRows {
    var pumpID: String
    var timestamp: String
    var features: [Double]
    var percent: Double
    /// `ai_predicted_failure`: the model's own decision, which `critical_risk` must repeat.
    var predictedFailure: Int

    /// The reading as the API takes it (the warehouse's `YYYY-MM-DD HH:MM:SS` as RFC 3339).
    func json(withMeans: Bool) -> String {
        let names = ["flow_rate", "pressure", "vibration", "temperature", "vibration_rolling_mean", "pressure_rolling_mean"]
        let fields = zip(names, features).prefix(withMeans ? 6 : 4).map { "\"\($0)\":\($1)" }
        return "{\"pump_id\":\"\(pumpID)\",\"timestamp\":\"\(timestamp.replacingOccurrences(of: " ", with: "T"))Z\","
            + fields.joined(separator: ",") + "}"
    }

    static func open(_ path: String) throws -> Database {
        let db = try Database(existingPath: path, busyTimeout: .seconds(2))
        try db.execute("PRAGMA query_only=1")
        return db
    }

    static func servingVersion(_ path: String) throws -> Int64? {
        let query = try open(path).prepare("SELECT max(version) FROM ml_models WHERE status = 'serving'")
        guard try query.step(), !query.isNull(at: 0) else { return nil }
        return query.int64(at: 0)
    }

    /// The serving version and the highest-risk rows, the flagged rows of lowest risk, and random
    /// others, all scored by it; nil
    /// also when the serving model has no calibration (its risk would be its raw probability).
    static func read(_ path: String) throws -> (Int64, [ScoredRows])? {
        let db = try open(path)
        try db.execute("BEGIN")
        defer { try? db.execute("COMMIT") }
        let version = try db.prepare("SELECT max(version) FROM ml_models WHERE status = 'serving'")
        guard try version.step(), !version.isNull(at: 0) else { return nil }
        let serving = version.int64(at: 0)
        let calibration = try db.prepare("SELECT calibration IS NOT NULL FROM ml_models WHERE version = \(serving)")
        guard try calibration.step(), calibration.int64(at: 0) == 1 else { return nil }
        var rows: [ScoredRows] = []
        for order in ["p.ai_risk_score_percent DESC", "p.ai_predicted_failure DESC, p.ai_risk_score_percent ASC", "random()"] {
            let query = try db.prepare("""
                SELECT p.pump_id, p.timestamp, f.flow_rate, f.pressure, f.vibration, f.temperature,
                       f.vibration_rolling_mean, f.pressure_rolling_mean, p.ai_risk_score_percent, p.model_version,
                       p.ai_predicted_failure
                FROM ai_telemetry_predictions p JOIN fact_telemetry_features f USING (pump_id, timestamp)
                ORDER BY \(order) LIMIT 15
                """)
            while try query.step() {
                guard query.int64(at: 9) == serving else { return nil }
                rows.append(ScoredRows(pumpID: query.string(at: 0), timestamp: query.string(at: 1),
                                       features: (2...7).map { query.double(at: Int32($0)) }, percent: query.double(at: 8),
                                       predictedFailure: Int(query.int64(at: 10))))
            }
        }
        return (serving, rows)
    }
}

/// Requests sent one after another from a thread of their own, each a reading without its means
/// (the warehouse path), until stopped: the model version of each answer, and every failure.
final class RequestStream: @unchecked Sendable {
    private let lock = NSLock()
    private var isStopped = false
    private var answered: [Int64] = []
    private var failed: [String] = []
    private let thread: Thread

    init(port: UInt16) {
        let box = Box()
        thread = Thread {
            var hour = 0
            while !(box.stream?.stopped ?? false) {
                hour += 1
                let body = "{\"pump_id\":\"P_00\(hour % 5 + 1)\",\"timestamp\":\"2030-01-01T\(hour % 24 < 10 ? "0" : "")\(hour % 24):00:00Z\","
                    + "\"flow_rate\":500,\"pressure\":4.5,\"vibration\":2.5,\"temperature\":50}"
                do {
                    let reply = try PredictorServingTests.http(port: port, method: "POST", path: "/v1/predict", body: body)
                    let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
                    if reply.status == 200, let version = (object?["model_version"] as? NSNumber)?.int64Value {
                        box.stream?.record(version: version)
                    } else {
                        box.stream?.record(failure: "\(reply.status) \(reply.body.prefix(200))")
                    }
                } catch {
                    box.stream?.record(failure: "\(error)")
                }
            }
            box.stream?.finished()
        }
        box.stream = self
        thread.start()
    }

    private final class Box: @unchecked Sendable { weak var stream: RequestStream? }

    private var isFinished = false
    var stopped: Bool { lock.withLock { isStopped } }
    var versions: [Int64] { lock.withLock { answered } }
    var failures: [String] { lock.withLock { failed } }
    func record(version: Int64) { lock.withLock { answered.append(version) } }
    func record(failure: String) { lock.withLock { failed.append(failure) } }
    func finished() { lock.withLock { isFinished = true } }

    /// Stops the stream and waits for its last request.
    func stop() {
        lock.withLock { isStopped = true }
        _ = poll(timeout: .seconds(20)) { lock.withLock { isFinished } }
    }
}
