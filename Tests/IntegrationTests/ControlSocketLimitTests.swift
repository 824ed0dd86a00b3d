import CShims
import Posix
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10: "The control socket can starve the supervisor. 996 idle same-uid connections took
/// the root to its descriptor limit: `cidp status` hung and a killed loader could not be
/// respawned (`Too many open files`)." Here the root runs under a descriptor limit of 128 and is
/// sent 300 idle connections: it holds at most `control.max_connections` of them, refuses the rest
/// with a reply, respawns a killed worker, answers `cidp status`, and closes the idle ones after
/// `control.idle_timeout_ms`.
@Suite(.timeLimit(.minutes(1)))
struct ControlSocketLimitTests {
    static let cap = 8
    static let idleTimeoutMs = 3000

    static let policy = flatPolicy(workers: [("a", #"args = ["--record", "$RECORD"]"#), ("b", #"args = ["--record", "$RECORD"]"#)])
        + "\n[control]\nmax_connections = \(cap)\nidle_timeout_ms = \(idleTimeoutMs)\n"

    /// A client socket connected to `path` (non-blocking); retried while the backlog is full.
    static func connect(_ path: String) throws -> Int32 {
        let fd = try Posix.unixStreamSocket(nonblocking: true).rawValue
        var connected = false
        _ = poll(timeout: .seconds(10)) {
            connected = cshims_unix_connect(fd, path) == 0 || errno == EISCONN
            return connected || (errno != EAGAIN && errno != EINPROGRESS && errno != EALREADY)
        }
        guard connected else {
            let error = Errno.current
            close(fd)
            throw error
        }
        return fd
    }

    /// What each client has received so far, and whether the server has closed it.
    struct Client {
        var fd: Int32
        var received: [UInt8] = []
        var isClosed = false
        var firstLine: String? {
            received.firstIndex(of: UInt8(ascii: "\n")).map { String(decoding: received[..<$0], as: UTF8.self) }
        }
    }

    /// Reads what is available on every client that is still open.
    static func readAvailable(_ clients: inout [Client]) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        for index in clients.indices where !clients[index].isClosed {
            while true {
                let count = buffer.withUnsafeMutableBytes { read(clients[index].fd, $0.baseAddress, $0.count) }
                if count > 0 { clients[index].received += buffer[0..<count]; continue }
                if count == 0 || (errno != EAGAIN && errno != EINTR) { clients[index].isClosed = true }
                break
            }
        }
    }

    static func reply(_ line: String?) -> ControlReply? {
        line.flatMap { try? JSONDecoder().decode(ControlReply.self, from: Data($0.utf8)) }
    }

    @Test func idleConnectionsPastTheCapNeitherStarveTheTreeNorHangTheOperator() throws {
        let sandbox = try Sandbox(policy: Self.policy)
        // The descriptor limit of the finding's machine, lower: 300 connections would exhaust it eight times over.
        let supervisor = try RunningSupervisor(
            sandbox: sandbox,
            arguments: ["-c", "ulimit -n 128 && exec \"$@\"", "sh", cidpBinary, "up", "--policy", sandbox.policyPath,
                        "--run-dir", sandbox.runDirectory],
            executable: "/bin/sh")
        let pids = try supervisor.waitForAllRunning()
        let pidA = try #require(pids["a"])
        #expect(try String(contentsOfFile: "/proc/\(supervisor.pid)/limits", encoding: .utf8)
            .split(separator: "\n").contains { $0.hasPrefix("Max open files") && $0.contains(" 128 ") })
        let descriptorsBefore = openDescriptorCount(supervisor.pid)

        // The flood: 300 clients that connect and say nothing.
        let flooded = ContinuousClock.now
        var clients = try (0..<300).map { _ in Client(fd: try Self.connect(sandbox.socketPath)) }
        defer { for client in clients { close(client.fd) } }
        // Every client past the cap is answered at once with the refusal, and closed.
        let refused = poll(timeout: .seconds(10)) {
            Self.readAvailable(&clients)
            return clients.filter { $0.isClosed }.count >= 300 - Self.cap
        }
        #expect(refused, "\(clients.filter { $0.isClosed }.count) clients answered")
        let busy = clients.filter { $0.firstLine?.contains("control socket busy") == true }
        #expect(busy.count >= 300 - 2 * Self.cap, "\(busy.count) refused as busy")
        let refusal = try #require(Self.reply(busy.first?.firstLine))
        #expect(refusal.ok == false && refusal.retryAfterMs != nil, "\(refusal)")
        #expect(refusal.error == "control socket busy: \(Self.cap) connections open, the most control.max_connections "
            + "allows here (\(Self.cap)); try again shortly")
        // The root holds no more than the cap of them.
        #expect(openDescriptorCount(supervisor.pid) <= descriptorsBefore + Self.cap,
                "\(openDescriptorCount(supervisor.pid)) descriptors, \(descriptorsBefore) before")

        // While the cap is held: a client sending a request gets the refusal line, not silence.
        let raw = try exchangeRaw(socketPath: sandbox.socketPath, Array("status\n".utf8))
        let rawReply = try #require(Self.reply(raw.split(separator: "\n").first.map(String.init)), "\(raw)")
        #expect(rawReply.error?.hasPrefix("control socket busy") == true, "\(raw)")

        // A killed worker is respawned: its descriptors were reserved.
        kill(pidA, SIGKILL)
        #expect(poll { sandbox.startedPIDs(of: "a").count == 2 && sandbox.recordedReady("a", pid: sandbox.startedPIDs(of: "a")[1]) },
                "not respawned: \(sandbox.records)\n\(supervisor.log.suffix(2000))")
        #expect(!supervisor.log.contains("Cannot spawn worker"), "\(supervisor.log.suffix(2000))")

        // `cidp status` answers: refused while the cap is held, it waits for the slot the reply names.
        let status = try sandbox.cidp(["status", "--run-dir", sandbox.runDirectory], timeout: .seconds(20))
        #expect(status.code == 0, "\(status.stderr)")
        #expect(status.stdout.split(separator: "\n").contains { $0.hasPrefix("  a ") && $0.contains(" running ") && $0.contains(" 1 ") },
                "\(status.stdout)")

        // The idle clients the root held are answered and closed once their timeout has passed.
        let closed = poll(timeout: .seconds(10)) {
            Self.readAvailable(&clients)
            return clients.allSatisfy(\.isClosed)
        }
        #expect(closed, "\(clients.filter { !$0.isClosed }.count) clients still open")
        #expect(ContinuousClock.now - flooded >= .milliseconds(Self.idleTimeoutMs))
        let idle = clients.filter { $0.firstLine?.contains("no request within") == true }
        #expect((1...Self.cap).contains(idle.count), "\(idle.count) closed as idle")
        #expect(Self.reply(idle.first?.firstLine)?.error
            == "no request within \(Self.idleTimeoutMs) ms of connecting (control.idle_timeout_ms); closing")
        #expect(busy.count + idle.count == 300, "every client got one of the two replies")
        // None kept (the count before may include a status client of waitForAllRunning not yet closed).
        #expect(poll { openDescriptorCount(supervisor.pid) <= descriptorsBefore },
                "\(openDescriptorCount(supervisor.pid)) descriptors, \(descriptorsBefore) before: \(descriptorTargets(supervisor.pid).sorted { $0.key < $1.key })")
        #expect(supervisor.log.contains("Control clients refused"), "\(supervisor.log.suffix(2000))")

        #expect(try supervisor.stop() == 0, "\(supervisor.log.suffix(2000))")
    }
}
