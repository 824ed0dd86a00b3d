import Foundation
import Posix
import Supervisor
import Testing
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// `cidp up` under systemd: the notification protocol, received by a real `AF_UNIX` datagram
/// socket that the test binds as `NOTIFY_SOCKET`, and the unit files in `contrib/systemd`.
@Suite(.timeLimit(.minutes(1)))
struct SystemdNotifyTests {
    static let twoWorkers = flatPolicy(workers: [
        ("a", #"args = ["--record", "$RECORD"]"#),
        ("b", #"args = ["--record", "$RECORD"]"#),
    ])

    @Test func readyStatusWatchdogAndStoppingArriveInOrder() throws {
        let sandbox = try Sandbox(policy: Self.twoWorkers)
        let listener = try NotifyListener(address: sandbox.path + "/notify.sock")
        // 400 ms: pings every 200 ms, with WATCHDOG_PID naming the supervisor as systemd sets it.
        let supervisor = try sandbox.up(environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"],
                                        watchdogPIDIsOwn: true)
        let pinged = listener.receive { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 }
        #expect(pinged, "no three WATCHDOG=1 pings: \(listener.texts)\n\(supervisor.log)")
        let beforeStop = listener.texts
        #expect(beforeStop.first == "READY=1", "\(beforeStop)")
        #expect(beforeStop.dropFirst().first == "STATUS=2 running", "the status follows readiness: \(beforeStop)")
        #expect(beforeStop.filter { $0 == "READY=1" }.count == 1, "\(beforeStop)")
        #expect(beforeStop.allSatisfy { $0 == "READY=1" || $0 == "WATCHDOG=1" || $0.hasPrefix("STATUS=") }, "\(beforeStop)")
        // At half of WATCHDOG_USEC: not in bursts, not late (with room for a loaded machine).
        let pings = listener.received.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        let gaps = zip(pings, pings.dropFirst()).map { $1 - $0 }
        #expect(gaps.allSatisfy { $0 >= .milliseconds(120) && $0 <= .milliseconds(1000) }, "gaps between pings: \(gaps)")

        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
        listener.drain()
        let all = listener.texts
        let stopping = all.indices.filter { all[$0] == "STOPPING=1" }
        #expect(stopping.count == 1, "one STOPPING=1: \(all)")
        if let index = stopping.first {
            #expect(index >= beforeStop.count, "STOPPING=1 after everything sent before the stop: \(all)")
            #expect(all[index...].allSatisfy { $0 == "STOPPING=1" || $0 == "WATCHDOG=1" || $0.hasPrefix("STATUS=stopping: ") },
                    "after STOPPING=1 only pings and stopping statuses: \(all)")
        }
    }

    @Test func abstractNamespaceSocketWithoutWatchdog() throws {
        let sandbox = try Sandbox(policy: Self.twoWorkers)
        let listener = try NotifyListener(address: "@cidp-test-notify-\(UUID().uuidString)")
        let supervisor = try sandbox.up(environment: ["NOTIFY_SOCKET": listener.address],
                                        unsetting: ["WATCHDOG_USEC", "WATCHDOG_PID"])
        #expect(listener.receive { $0.count >= 2 }, "\(listener.texts)\n\(supervisor.log)")
        #expect(Array(listener.texts.prefix(2)) == ["READY=1", "STATUS=2 running"])
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
        listener.drain()
        #expect(listener.texts.filter { $0 == "STOPPING=1" }.count == 1, "\(listener.texts)")
        #expect(!listener.texts.contains("WATCHDOG=1"), "no WATCHDOG_USEC, no pings: \(listener.texts)")
    }

    @Test func watchdogOfAnotherProcessIsNotPinged() throws {
        let sandbox = try Sandbox(policy: Self.twoWorkers)
        let listener = try NotifyListener(address: sandbox.path + "/notify.sock")
        // WATCHDOG_PID 1: the watchdog is init's, not ours (as when a wrapper started us).
        let supervisor = try sandbox.up(environment: ["NOTIFY_SOCKET": listener.address,
                                                      "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"])
        #expect(listener.receive { $0.contains("READY=1") }, "\(listener.texts)\n\(supervisor.log)")
        // Ours, the watchdog would have been pinged 20 times in this second.
        listener.receive(timeout: .seconds(1)) { _ in false }
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
        listener.drain()
        #expect(listener.texts.contains("STOPPING=1"), "\(listener.texts)")
        #expect(!listener.texts.contains("WATCHDOG=1"), "\(listener.texts)")
    }

    @Test func workersInheritNoneOfTheNotificationVariables() throws {
        let sandbox = try Sandbox(policy: Self.twoWorkers)
        let listener = try NotifyListener(address: sandbox.path + "/notify.sock")
        let supervisor = try sandbox.up(environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "10000000"],
                                        watchdogPIDIsOwn: true)
        let pids = try supervisor.waitForAllRunning()
        let rootEnvironment = environment(of: supervisor.pid)
        // The supervisor itself has them, as systemd would set them.
        #expect(rootEnvironment.contains("NOTIFY_SOCKET=\(listener.address)"), "\(rootEnvironment)")
        #expect(rootEnvironment.contains("WATCHDOG_PID=\(supervisor.pid)"), "\(rootEnvironment)")
        for name in ["a", "b"] {
            let pid = try #require(pids[name])
            let entries = environment(of: pid)
            #expect(entries.contains("\(WireLayout.workerNameVariable)=\(name)"), "not the worker's environment: \(entries)")
            for variable in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
                #expect(!entries.contains { $0.hasPrefix(variable + "=") }, "worker \(name) has \(variable): \(entries)")
            }
        }
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
    }

    @Test func rootGivingUpSaysStopping() throws {
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 1, workers: [
            ("steady", #"args = ["--record", "$RECORD"]"#),
            ("crashy", """
                args = ["--record", "$RECORD", "--crash-after", "300"]
                \(quietCrashes)
                """),
        ]))
        let listener = try NotifyListener(address: sandbox.path + "/notify.sock")
        let supervisor = try sandbox.up(environment: ["NOTIFY_SOCKET": listener.address], unsetting: ["WATCHDOG_USEC"],
                                        waitUntilReady: false)
        #expect(supervisor.waitForExit() == 1, "the root did not give up: \(supervisor.log)")
        listener.drain()
        #expect(listener.texts.first == "READY=1", "\(listener.texts)")
        #expect(listener.texts.filter { $0 == "STOPPING=1" }.count == 1, "\(listener.texts)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"),
                   "systemd-analyze is not installed"))
    func unitFilesPassSystemdAnalyzeVerify() throws {
        let sandbox = try Sandbox(policy: "")
        let contrib = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("contrib/systemd")
        let units = ["cidp.service", "cidp-nightly.service", "cidp-nightly.timer"]
        var copies: [String] = []
        for unit in units {
            let text = try String(contentsOf: contrib.appendingPathComponent(unit), encoding: .utf8)
            #expect(text.contains("/usr/local/bin/cidp ") || unit.hasSuffix(".timer"), "\(unit) does not run /usr/local/bin/cidp")
            // The units name the installed binary, absent here: verify checks that ExecStart= exists.
            let copy = sandbox.path + "/" + unit
            try text.replacingOccurrences(of: "/usr/local/bin/cidp", with: cidpBinary)
                .write(toFile: copy, atomically: true, encoding: .utf8)
            copies.append(copy)
        }
        let result = try sandbox.run("/usr/bin/systemd-analyze", ["verify"] + copies)
        #expect(result.code == 0, "systemd-analyze verify exited \(result.code): \(result.stdout)\(result.stderr)")
        // It reports unknown keys and bad values on stderr and still exits 0.
        let complaints = (result.stdout + result.stderr).split(separator: "\n")
            .filter { line in units.contains { line.contains($0) } || line.contains(sandbox.path) }
        #expect(complaints.isEmpty, "systemd-analyze verify: \(complaints.joined(separator: "\n"))")
    }
}

/// A real `AF_UNIX` datagram socket bound where `NOTIFY_SOCKET` will point, as systemd's is:
/// a filesystem path, or `@name` in the abstract namespace.
final class NotifyListener {
    let address: String
    private let fd: FileDescriptor
    /// Every datagram so far, with the time it was read.
    private(set) var received: [(text: String, at: ContinuousClock.Instant)] = []

    init(address: String) throws {
        self.address = address
        fd = try Posix.unixDatagramSocket()
        do { try Posix.bindDatagramSocket(fd, to: address) } catch {
            Posix.close(fd)
            throw error
        }
    }

    deinit {
        Posix.close(fd)
        if address.hasPrefix("/") { unlink(address) }
    }

    var texts: [String] { received.map(\.text) }

    /// Reads datagrams as they come until `condition` holds for all received so far, or `timeout`
    /// passes; returns whether it held.
    @discardableResult
    func receive(timeout: Duration = .seconds(20), until condition: ([String]) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition(texts) {
            let remaining = deadline - .now
            if remaining <= .zero { return false }
            if let bytes = try? Posix.receiveDatagram(fd, timeout: min(remaining, .milliseconds(250))) {
                received.append((String(decoding: bytes, as: UTF8.self), .now))
            }
        }
        return true
    }

    /// Reads whatever is queued (after the sender has exited: everything it sent).
    func drain() {
        while let bytes = try? Posix.receiveDatagram(fd, timeout: .zero) {
            received.append((String(decoding: bytes, as: UTF8.self), .now))
        }
    }
}
