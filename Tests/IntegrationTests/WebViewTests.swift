import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The read-only web view at `/`, loaded in a real headless browser (Debian's chromium).
@Suite(.timeLimit(.minutes(3)))
struct WebViewTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The page's DOM once its scripts have run (and polled) for `budgetMs` of virtual time.
    static func dumpDOM(_ sandbox: Sandbox, port: UInt16, budgetMs: Int = 3000) throws -> String {
        let browser = try #require(chromium, "chromium is missing (apt-get install chromium)")
        let run = try sandbox.run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                            "--user-data-dir=\(sandbox.path)/chromium-\(UUID().uuidString)",
                                            "--virtual-time-budget=\(budgetMs)", "--dump-dom", "http://127.0.0.1:\(port)/"],
                                  timeout: .seconds(60))
        #expect(run.code == 0, "chromium: \(run.stderr.suffix(2000))")
        return run.stdout
    }

    /// The opening tag of the table row of `child` in the dumped DOM.
    static func row(_ dom: String, _ child: String) -> String? {
        guard let start = dom.range(of: "data-child=\"\(child)\"") else { return nil }
        let open = dom[..<start.lowerBound].range(of: "<tr", options: .backwards)?.lowerBound ?? start.lowerBound
        let close = dom[start.upperBound...].firstIndex(of: ">") ?? dom.endIndex
        return String(dom[open..<close])
    }

    @Test(.enabled(if: chromium != nil)) func thePageShowsEveryWorkerAndTheNewPidAfterAKill() throws {
        let sandbox = try Sandbox(policy: try MetricsTests.policy())
        let db = sandbox.path + "/dwh.sqlite"
        // A job first, so that the warehouse has a model version to show.
        let job = try sandbox.cidp(["up", "--policy", sandbox.policyPath, "--run-dir", sandbox.runDirectory,
                                    "--db", db, "--records", "2000"], timeout: .seconds(120))
        #expect(job.code == 0, "\(job.stderr)")
        let supervisor = try sandbox.up(["--follow", "--records", "2000", "--sim-rate", "500", "--db", db],
                                        waitUntilReady: false)
        let port = try #require(MetricsTests.metricsPort(supervisor), "\(supervisor.log.suffix(2000))")
        let pids = try supervisor.waitForAllRunning()
        let dom = try Self.dumpDOM(sandbox, port: port)
        for (name, pid) in pids {
            let row = Self.row(dom, name)
            #expect(row?.contains("data-state=\"running\"") == true && row?.contains("data-pid=\"\(pid)\"") == true,
                    "\(name): \(row ?? "no row") in \(dom.prefix(3000))")
        }
        #expect(Self.row(dom, "etl")?.contains("data-state=\"running\"") == true, "\(dom.prefix(3000))")
        #expect(dom.contains("<td>serving</td>"), "the model version: \(dom.suffix(2000))")

        kill(try #require(pids["transformer"]), SIGKILL)
        var newPID: Int32?
        #expect(poll(timeout: .seconds(30)) {
            guard let transformer = try? supervisor.status().find("transformer"), transformer.state == "running",
                  let pid = transformer.pid, pid != pids["transformer"] else { return false }
            newPID = pid
            return true
        })
        // The page's data source has it at once (the loop publishes every 250 ms); the page shows it.
        let pid = try #require(newPID)
        #expect(poll(timeout: .seconds(1)) {
            ((try? httpGet(port: port, path: "/api/status").body) ?? "").contains("\"pid\":\(pid)")
        })
        let after = try Self.dumpDOM(sandbox, port: port)
        #expect(Self.row(after, "transformer")?.contains("data-pid=\"\(pid)\"") == true, "\(after.prefix(3000))")
        #expect(after.contains("last exit: signal SIGKILL"), "\(after.prefix(3000))")
        // Actions off (the default policy): a request that would act is refused, and nothing is offered.
        let refused = try httpGet(port: port, path: "/api/restart/loader", method: "POST")
        #expect(refused.status == 403 && refused.body.contains("actions are off"), "\(refused)")
        #expect(try httpGet(port: port, path: "/api/session").body == #"{"actions":false}"#)
        #expect(!after.contains("data-path="), "no action buttons: \(after.prefix(3000))")

        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(2000))")
    }

    /// `[metrics] actions = true`: the page offers restart and resume; a request without the
    /// per-run token, or from another origin, is refused and changes nothing; with it, the
    /// worker is restarted through the same engine entry point as `cidp restart`.
    @Test(.enabled(if: chromium != nil)) func actionsNeedThePerRunToken() throws {
        let policy = try MetricsTests.policy().replacingOccurrences(
            of: "listen = \"127.0.0.1:0\"", with: "listen = \"127.0.0.1:0\"\nactions = true")
        let sandbox = try Sandbox(policy: policy)
        let supervisor = try sandbox.up(["--follow", "--records", "2000", "--sim-rate", "500",
                                         "--db", sandbox.path + "/dwh.sqlite"], waitUntilReady: false)
        let port = try #require(MetricsTests.metricsPort(supervisor), "\(supervisor.log.suffix(2000))")
        let pids = try supervisor.waitForAllRunning()
        let transformer = try #require(pids["transformer"])

        let dom = try Self.dumpDOM(sandbox, port: port)
        #expect(dom.contains("data-path=\"/api/restart/transformer\""), "a restart button: \(dom.prefix(3000))")

        let session = try httpGet(port: port, path: "/api/session")
        #expect(session.status == 200, "\(session)")
        let token = try #require(session.body.split(separator: "\"").dropFirst().first { $0.count == 32 }.map(String.init),
                                 "\(session.body)")
        // Refused, each with nothing done: no token, a wrong one, a rebinding host, another origin.
        let attempts: [[String: String]] = [
            [:],
            ["X-CIDP-Token": String(token.reversed())],
            ["X-CIDP-Token": token, "Host": "attacker.example:\(port)"],
            ["X-CIDP-Token": token, "Origin": "http://attacker.example"],
        ]
        for headers in attempts {
            let answer = try httpGet(port: port, path: "/api/restart/transformer", method: "POST", headers: headers)
            #expect(answer.status == 403, "\(headers): \(answer)")
        }
        #expect(try httpGet(port: port, path: "/api/session", headers: ["Host": "attacker.example:\(port)"]).status == 403)
        #expect(try supervisor.status().find("transformer")?.pid == transformer, "refused requests restarted nothing")

        // An unknown worker: the engine's refusal, as `cidp restart` gets it.
        let unknown = try httpGet(port: port, path: "/api/restart/nosuch", method: "POST", headers: ["X-CIDP-Token": token])
        #expect(unknown.status == 409, "\(unknown)")

        let done = try httpGet(port: port, path: "/api/restart/transformer", method: "POST",
                               headers: ["X-CIDP-Token": token, "Origin": "http://127.0.0.1:\(port)"])
        #expect(done.status == 200 && done.body.contains("\"ok\":true"), "\(done)")
        #expect(poll(timeout: .seconds(30)) {
            guard let now = try? supervisor.status().find("transformer") else { return false }
            return now.state == "running" && now.pid != nil && now.pid != transformer
        })

        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(2000))")
    }
}
