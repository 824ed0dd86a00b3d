import Foundation
import Posix
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The root's Prometheus endpoint and the counters that survive restarts (issue 12, items 2, 4
/// and 5), on a real tree: the simulator, the chain, a real SQLite warehouse.
@Suite(.timeLimit(.minutes(3)))
struct MetricsTests {
    /// The default policy with metrics on any free loopback port (tests run in parallel).
    static func policy(listen: String = "127.0.0.1:0") throws -> String {
        let policy = try EtlTests.defaultPolicy()
        let commented = "# listen = \"127.0.0.1:9464\""
        #expect(policy.contains(commented), "policies/default.toml's [metrics] table changed")
        return policy.replacingOccurrences(of: commented, with: "listen = \"\(listen)\"")
    }

    /// The port the root logged it serves metrics on.
    static func metricsPort(_ supervisor: RunningSupervisor) -> UInt16? {
        var port: UInt16?
        _ = poll(timeout: .seconds(30)) {
            guard let range = supervisor.log.range(of: "metrics.url=http://127.0.0.1:") else { return !supervisor.isRunning }
            port = UInt16(supervisor.log[range.upperBound...].prefix { $0.isNumber })
            return true
        }
        return port
    }

    /// The value of the series `name{labels}` (labels exactly as rendered), nil when absent.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// The sum of every series of `name` whose labels contain `matching`.
    static func sum(_ text: String, _ name: String, matching: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(name + "{") && $0.contains(matching) }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    @Test func aScrapeParsesWithPromtoolAndATransformerKillCountsOneRestart() throws {
        let promtool = try #require(["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }, "promtool is missing: scripts/ensure-deps installs Debian's prometheus package")
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "2000", "--db", db],
                                        waitUntilReady: false)
        let port = try #require(Self.metricsPort(supervisor), "\(supervisor.log.suffix(2000))")
        var text = ""
        #expect(poll(timeout: .seconds(60)) {
            text = (try? httpGet(port: port, path: "/metrics").body) ?? ""
            return (Self.value(text, #"cidp_records_total{stage="load",outcome="loaded"}"#) ?? 0) > 0
        }, "\(text)")
        try text.write(toFile: sandbox.path + "/scrape.txt", atomically: true, encoding: .utf8)
        let check = try sandbox.run("/bin/sh", ["-c", "\"$1\" check metrics < \"$2\"", "sh", promtool, sandbox.path + "/scrape.txt"])
        #expect(check.code == 0, "promtool: \(check.stdout) \(check.stderr)\n\(text)")
        #expect(text.contains(#"cidp_child_state{child="transformer",state="running"} 1.0"#), "\(text)")
        #expect(text.contains("cidp_build_info{version="), "\(text)")

        // kill -9 of the transformer: its restarts go up by exactly one, under the signal's cause.
        let before = try supervisor.waitForAllRunning()
        let restartsBefore = Self.sum(text, "cidp_child_restarts_total", matching: #"child="transformer""#)
        kill(try #require(before["transformer"]), SIGKILL)
        #expect(poll(timeout: .seconds(30)) {
            text = (try? httpGet(port: port, path: "/metrics").body) ?? ""
            return Self.sum(text, "cidp_child_restarts_total", matching: #"child="transformer""#) >= restartsBefore + 1
        }, "\(text)")
        #expect(Self.sum(text, "cidp_child_restarts_total", matching: #"child="transformer""#) == restartsBefore + 1, "\(text)")
        #expect(text.contains(#"cidp_child_restarts_total{child="transformer",reason="signal SIGKILL"} 1"#), "\(text)")
        // cidp status names the cause too.
        #expect(poll(timeout: .seconds(30)) {
            (try? supervisor.status().find("transformer")?.lastExit)??.hasPrefix("signal SIGKILL") == true
        })
        // Anything but GET /metrics is refused, and the listener goes on serving.
        #expect(try httpGet(port: port, path: "/nothing").status == 404)
        #expect(try httpGet(port: port, path: "/metrics", method: "POST").status == 405)
        #expect(try httpGet(port: port, path: "/metrics").status == 200)

        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(2000))")
    }

    @Test func afterRestartingTheLoaderStatusAndMetricsGoOnFromTheWarehouse() throws {
        let sandbox = try Sandbox(policy: try Self.policy())
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--follow", "--records", "5000", "--sim-rate", "2000", "--db", db],
                                        waitUntilReady: false)
        let port = try #require(Self.metricsPort(supervisor), "\(supervisor.log.suffix(2000))")
        var loader: StatusTree?
        #expect(poll(timeout: .seconds(60)) {
            loader = try? supervisor.status().find("loader")
            return (loader?.recordsOut ?? 0) >= 5_000 && loader?.state == "running"
        }, "\(String(describing: loader))")
        let reportedBefore = try #require(loader?.recordsOut)
        let pidBefore = try #require(loader?.pid)

        let restart = try sandbox.cidp(["restart", "loader", "--run-dir", sandbox.runDirectory])
        #expect(restart.code == 0, "\(restart.stderr)")
        // From here on, every view counts at least what the warehouse held: the new loader's
        // count starts from the warehouse's totals, not from 0.
        var samples: [Int64] = []
        #expect(poll(timeout: .seconds(60)) {
            guard let now = try? supervisor.status().find("loader"), let rows = now.recordsOut else { return false }
            samples.append(rows)
            return now.pid != pidBefore && now.restarts == 1 && rows >= reportedBefore + 3_000
        }, "\(samples)")
        #expect(samples.allSatisfy { $0 >= reportedBefore }, "loader rows after the restart \(samples), before \(reportedBefore)")
        // The loader's count is the warehouse's: within what commits while the two are read.
        let status = try #require(try supervisor.status().find("loader")?.recordsOut)
        let warehouseRows = EtlTests().rowsLoaded(db)
        #expect(abs(warehouseRows - status) <= 3_000, "status \(status), warehouse \(warehouseRows)")
        let text = try httpGet(port: port, path: "/metrics").body
        let loaded = try #require(Self.value(text, #"cidp_records_total{stage="load",outcome="loaded"}"#), "\(text)")
        #expect(Int64(loaded) >= reportedBefore + 3_000, "\(text)")
        #expect(text.contains(#"cidp_child_restarts_total{child="loader","#), "\(text)")

        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(2000))")
    }
}

/// The listener on a tree of test workers (no warehouse: no warehouse figures).
@Suite(.timeLimit(.minutes(1)))
struct MetricsListenerTests {
    @Test func aSilentClientDoesNotKeepAScrapeFromBeingAnswered() throws {
        let sandbox = try Sandbox(policy: flatPolicy(workers: [("a", ""), ("b", "")]) + "\n[metrics]\nlisten = \"127.0.0.1:0\"\n")
        let supervisor = try sandbox.up()
        let port = try #require(MetricsTests.metricsPort(supervisor), "\(supervisor.log)")
        _ = try supervisor.waitForAllRunning()
        // Connected, never says anything: the listener drops it after its timeout and goes on.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let scrape = try httpGet(port: port, path: "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.body.contains(#"cidp_child_state{child="a",state="running"} 1.0"#), "\(scrape.body)")
        #expect(!scrape.body.contains("cidp_records_total"), "a tree without a loader has no warehouse figures")
        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0)
    }
}

/// A `listen` address that cannot be used is a configuration error: one line, exit 2, nothing
/// started or created.
@Suite(.timeLimit(.minutes(1)))
struct MetricsListenRefusalTests {
    @Test func aTakenAddressIsRefusedBeforeAnythingIsCreated() throws {
        let holder = try Posix.listenTCP(host: "127.0.0.1", port: 0)
        defer { Posix.close(holder.fd) }
        let sandbox = try Sandbox(policy: try MetricsTests.policy(listen: "127.0.0.1:\(holder.port)"))
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                    "--db", sandbox.path + "/db/dwh.sqlite"])
        #expect(run.code == 2, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("[metrics] listen \"127.0.0.1:\(holder.port)\"")
                && lines[0].contains("Address already in use"), "\(run.stderr)")
        for path in ["run", "db", "logs"] {
            #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/" + path), "\(path) was created")
        }
    }

    @Test func withoutListenATakenDefaultPortIsAWarningNotARefusal() throws {
        // Hold 127.0.0.1:9464 if it is free; if another tree holds it, it is taken all the same.
        let held = try? Posix.listenTCP(host: "127.0.0.1", port: 9464)
        defer { if let held { Posix.close(held.fd) } }
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                    "--db", sandbox.path + "/dwh.sqlite", "--records", "1000"], timeout: .seconds(120))
        #expect(run.code == 0, "\(run.stderr)")
        let output = run.stdout + run.stderr
        if held != nil {
            #expect(output.contains("Metrics not served") && output.contains("127.0.0.1:9464"), "\(output)")
        } else {
            // Whoever held it may have let it go meanwhile: served, or not, but never refused.
            #expect(output.contains("Metrics not served") || output.contains("Metrics serving"), "\(output)")
        }
    }

    @Test func malformedOrForeignAddressesAreRefusedOnOneLine() throws {
        for (listen, expected) in [("127.0.0.1:99999", "expected \"HOST:PORT\""), ("localhost:9464", "IPv4"),
                                   ("192.0.2.1:9464", "not a loopback address")] {
            let sandbox = try Sandbox(policy: try MetricsTests.policy(listen: listen))
            let run = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                        "--db", sandbox.path + "/db/dwh.sqlite"])
            #expect(run.code == 2, "\(listen): \(run.stderr)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("metrics.listen") && lines[0].contains(expected),
                    "\(listen): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/run"))
            #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/db"))
        }
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port`, read to the server's close.
func httpGet(port: UInt16, path: String, method: String = "GET",
             headers: [String: String] = [:]) throws -> (status: Int, body: String) {
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
    var fields = headers
    if fields["Host"] == nil { fields["Host"] = "127.0.0.1:\(port)" }
    let head = fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\r\n" }.joined()
    let request = Array("\(method) \(path) HTTP/1.1\r\n\(head)Content-Length: 0\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
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
