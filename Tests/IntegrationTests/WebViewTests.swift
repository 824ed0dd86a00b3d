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
        // Read-only: a request that would act is refused.
        #expect(try httpGet(port: port, path: "/api/restart/loader", method: "POST").status == 405)

        let stop = try sandbox.cidp(["stop", "--run-dir", sandbox.runDirectory])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(supervisor.waitForExit() == 0, "\(supervisor.log.suffix(2000))")
    }
}
