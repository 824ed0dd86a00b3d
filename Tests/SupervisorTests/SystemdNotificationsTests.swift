import Logging
import Testing
@testable import Supervisor

/// The root's systemd notifications as a value: what is sent when, with the clock in the test's hands.
@Suite struct SystemdNotificationsTests {
    func ms(_ value: Int) -> Duration { .milliseconds(value) }

    @Test func nothingBeforeReadyThenReadyAndStatusAtOnce() {
        var notifications = SystemdNotifications(pingInterval: .milliseconds(200))
        #expect(notifications.update(now: ms(0), isReady: false, isStopping: false) { "2 starting" } == [])
        #expect(notifications.nextDeadline == nil)
        #expect(notifications.update(now: ms(50), isReady: true, isStopping: false) { "2 running" }
            == ["READY=1", "STATUS=2 running"])
        #expect(notifications.update(now: ms(60), isReady: true, isStopping: false) { "2 running" } == [])
    }

    @Test func watchdogPingsAtItsIntervalFromReadiness() {
        var notifications = SystemdNotifications(pingInterval: .milliseconds(200))
        _ = notifications.update(now: ms(100), isReady: true, isStopping: false) { "x" }
        #expect(notifications.nextDeadline == ms(300))
        #expect(notifications.update(now: ms(299), isReady: true, isStopping: false) { "x" } == [])
        #expect(notifications.update(now: ms(300), isReady: true, isStopping: false) { "x" } == ["WATCHDOG=1"])
        #expect(notifications.nextDeadline == ms(500))
        // After a stall, one ping, and the next one an interval later.
        #expect(notifications.update(now: ms(950), isReady: true, isStopping: false) { "x" } == ["WATCHDOG=1"])
        #expect(notifications.update(now: ms(1149), isReady: true, isStopping: false) { "x" } == [])
        #expect(notifications.update(now: ms(1150), isReady: true, isStopping: false) { "x" } == ["WATCHDOG=1"])
    }

    @Test func noPingsWithoutAnInterval() {
        var notifications = SystemdNotifications(pingInterval: nil)
        _ = notifications.update(now: ms(0), isReady: true, isStopping: false) { "x" }
        #expect(notifications.nextDeadline == ms(1000), "only the next status check")
        for step in 1...50 {
            #expect(!notifications.update(now: ms(step * 100), isReady: true, isStopping: false) { "x" }.contains("WATCHDOG=1"))
        }
    }

    @Test func statusIsSentOnlyOnChangeAndAtMostOnceASecond() {
        var notifications = SystemdNotifications(pingInterval: nil)
        var line = "2 running"
        var checks = 0
        func update(_ at: Int) -> [String] {
            notifications.update(now: ms(at), isReady: true, isStopping: false) { checks += 1; return line }
        }
        #expect(update(0) == ["READY=1", "STATUS=2 running"])
        line = "1 running, 1 restarting"
        #expect(update(400) == [], "a change within the second waits")
        #expect(checks == 1, "the line is not even computed before its time")
        #expect(update(1000) == ["STATUS=1 running, 1 restarting"])
        #expect(update(2000) == [], "unchanged: nothing")
        line = "2 running"
        #expect(update(2500) == [])
        #expect(update(3000) == ["STATUS=2 running"])
    }

    @Test func stoppingOnceAndTheStatusSaysSo() {
        var notifications = SystemdNotifications(pingInterval: .milliseconds(400))
        _ = notifications.update(now: ms(0), isReady: true, isStopping: false) { "2 running" }
        #expect(notifications.update(now: ms(100), isReady: true, isStopping: true) { "1 stopping, 1 running" } == ["STOPPING=1"])
        #expect(notifications.update(now: ms(400), isReady: true, isStopping: true) { "1 stopping, 1 running" } == ["WATCHDOG=1"])
        #expect(notifications.update(now: ms(1000), isReady: true, isStopping: true) { "1 stopping, 1 stopped" }
            == ["STATUS=stopping: 1 stopping, 1 stopped", "WATCHDOG=1"], "pings go on through the stop")
        #expect(!notifications.update(now: ms(2000), isReady: true, isStopping: true) { "2 stopped" }.contains("STOPPING=1"))
    }

    @Test func aShutdownBeforeReadinessNeverSaysReady() {
        var notifications = SystemdNotifications(pingInterval: .milliseconds(100))
        #expect(notifications.update(now: ms(0), isReady: false, isStopping: true) { "1 stopping" }
            == ["STOPPING=1", "STATUS=stopping: 1 stopping"])
        #expect(notifications.update(now: ms(5000), isReady: true, isStopping: true) { "1 stopped" }
            == ["STATUS=stopping: 1 stopped"], "no READY, no pings: systemd never armed the watchdog")
    }

    @Test func readyAndStoppingInOneTurnComeInThatOrder() {
        var notifications = SystemdNotifications(pingInterval: nil)
        #expect(notifications.update(now: ms(0), isReady: true, isStopping: true) { "1 running" }
            == ["READY=1", "STOPPING=1", "STATUS=stopping: 1 running"])
    }

    @Test func statusLineCountsWorkerStatesAndTheLoad() {
        func worker(_ name: String, _ state: String) -> StatusEntry {
            StatusEntry(name: name, kind: .worker, state: state, pid: nil, restarts: 0, uptime: nil, reason: nil,
                        haltedBy: nil, detail: "permanent", children: [])
        }
        let tree = StatusEntry(name: "root", kind: .node, state: "running", pid: nil, restarts: 0, uptime: nil,
                               reason: nil, haltedBy: nil, detail: "one_for_one", children: [
            worker("sensor-sim", "running"),
            StatusEntry(name: "etl", kind: .node, state: "running", pid: nil, restarts: 0, uptime: nil, reason: nil,
                        haltedBy: nil, detail: "rest_for_one", children: [
                worker("extractor", "degraded"), worker("transformer", "running"), worker("loader", "restarting"),
            ]),
        ])
        #expect(SystemdNotifications.statusLine(tree: tree, load: nil) == "2 running, 1 degraded, 1 restarting")
        let load = SystemdNotifications.LoadProgress(worker: "loader", committedBatch: 12, rowsLoaded: 12000)
        #expect(SystemdNotifications.statusLine(tree: tree, load: load)
            == "2 running, 1 degraded, 1 restarting; loader: batch 12 committed, 12000 rows loaded")
        #expect(SystemdNotifications.oneLine("a\nb\r\nc") == "a b c")
    }

    @Test func settingsFollowTheEnvironment() {
        typealias Settings = SystemdNotifier.Settings
        func settings(_ environment: [String: String]) -> Settings { SystemdNotifier.settings(from: environment, pid: 42) }
        #expect(settings([:]) == Settings())
        #expect(settings(["NOTIFY_SOCKET": ""]) == Settings())
        #expect(settings(["NOTIFY_SOCKET": "/run/systemd/notify"]).address == "/run/systemd/notify")
        #expect(settings(["NOTIFY_SOCKET": "@cidp/notify"]).address == "@cidp/notify")
        #expect(settings(["NOTIFY_SOCKET": "relative/path"]).address == nil)
        #expect(settings(["NOTIFY_SOCKET": "relative/path"]).problems.count == 1)
        let socket = ["NOTIFY_SOCKET": "/n"]
        #expect(settings(socket.merging(["WATCHDOG_USEC": "30000000"]) { $1 }).pingInterval == .seconds(15))
        #expect(settings(socket.merging(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"]) { $1 }).pingInterval == .seconds(15))
        #expect(settings(socket.merging(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"]) { $1 }).pingInterval == nil)
        #expect(settings(socket.merging(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"]) { $1 }).pingInterval == nil)
        #expect(settings(socket.merging(["WATCHDOG_USEC": "0"]) { $1 }).pingInterval == nil)
        #expect(settings(socket.merging(["WATCHDOG_USEC": "soon"]) { $1 }).problems.count == 1)
    }

    @Test func withoutNotifySocketTheNotifierDoesNothing() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "1000"], pid: 42, logger: logger)
        #expect(!notifier.isEnabled)
        #expect(notifier.nextDeadline == nil)
        notifier.update(now: .seconds(1), isReady: true, isStopping: false) { "x" }
        #expect(recorder.entries.isEmpty)
    }

    @Test func failedSendsAreLoggedOnceAsAWarning() {
        let (logger, recorder) = InMemoryLogHandler.makeLogger()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/cidp-notify.sock", "WATCHDOG_USEC": "200000"],
                                       pid: 42, logger: logger)
        for step in 0..<10 {
            notifier.update(now: .milliseconds(step * 100), isReady: true, isStopping: false) { "1 running" }
        }
        let warnings = recorder.entries.filter { $0.level == .warning }
        #expect(warnings.count == 1, "\(recorder.entries)")
        #expect(warnings.first?.metadata["message"] == "READY=1")
        #expect(warnings.first?.metadata["error"] == "No such file or directory")
        #expect(recorder.entries.filter { $0.level == .debug }.count >= 3, "later failures at debug level")
    }
}
