@testable import cidp
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// OTP restart types on real processes: which exits bring a worker back, and which leave it
/// down without disturbing its siblings or the supervisor.
@Suite(.timeLimit(.minutes(1)))
struct RestartTypeTests {
    enum ExitKind: String, CaseIterable, CustomTestStringConvertible {
        /// `exit(0)`: OTP's `normal`.
        case normal
        /// `exit(3)` right after ready, for as long as a trigger file exists.
        case exitCode3
        /// `abort()`: killed by SIGABRT.
        case signal

        var testDescription: String { rawValue }
        var isAbnormal: Bool { self != .normal }

        /// The worker's `args` (a TOML array body). `trigger` is the file `--crash-if-exists` watches.
        func arguments(trigger: String) -> String {
            switch self {
            case .normal: return #""--exit-after", "200", "--exit-code", "0""#
            case .exitCode3: return #""--crash-if-exists", "\#(trigger)""#
            case .signal: return #""--crash-after", "200""#
            }
        }

        /// How the log reports the first exit.
        var exitStatus: String {
            switch self {
            case .normal: return #""exit code 0""#
            case .exitCode3: return #""exit code 3""#
            case .signal: return #""signal SIGABRT""#
            }
        }
    }

    static func isRestarted(_ restart: String, after kind: ExitKind) -> Bool {
        switch restart {
        case "permanent": return true
        case "transient": return kind.isAbnormal
        default: return false
        }
    }

    static func siblingsRunning(_ tree: StatusTree) -> Bool {
        tree.find("before")?.state == "running" && tree.find("after")?.state == "running"
    }

    @Test(arguments: ["permanent", "transient", "temporary"], ExitKind.allCases)
    func restartTypeDecidesWhetherAnExitedWorkerComesBack(restart: String, kind: ExitKind) throws {
        let sandbox = try Sandbox(policy: flatPolicy(intensity: 100, workers: [
            ("before", #"args = ["--record", "$RECORD"]"#),
            ("subject", """
                restart = "\(restart)"
                args = ["--record", "$RECORD", \(kind.arguments(trigger: "$SANDBOX/trigger"))]
                \(quietCrashes)
                """),
            ("after", #"args = ["--record", "$RECORD"]"#),
        ]))
        let trigger = sandbox.touch("trigger")
        // Not waiting for "tree ready": with the trigger file, 'subject' may exit before its
        // readiness is processed, and the tree is not ready until the trigger is gone.
        let supervisor = try sandbox.up(waitUntilReady: false)

        // The first incarnation has exited once the supervisor reported it.
        #expect(poll { !sandbox.startedPIDs(of: "subject").isEmpty }, "'subject' never started: \(supervisor.log)")
        let firstPID = try #require(sandbox.startedPIDs(of: "subject").first)
        var exitLine: String?
        let exitedFirst = poll {
            exitLine = supervisor.logLines("Worker exited", ["worker.name": "subject", "worker.pid": "\(firstPID)"]).first
            return exitLine != nil
        }
        #expect(exitedFirst, "the first 'subject' (pid \(firstPID)) never exited: \(supervisor.log)")
        #expect(exitLine?.contains("exit.status=\(kind.exitStatus)") == true, "unexpected exit: \(exitLine ?? "none")")
        // Later incarnations stop exiting with code 3 once the trigger is gone.
        try FileManager.default.removeItem(atPath: trigger)

        var subject: StatusTree?
        if Self.isRestarted(restart, after: kind) {
            let restarted = supervisor.waitForStatus { tree in
                subject = tree.find("subject")
                guard let subject, let pid = subject.pid else { return false }
                return subject.state == "running" && pid != firstPID && subject.restarts >= 1 && Self.siblingsRunning(tree)
            }
            #expect(restarted, "'subject' was not restarted: \(supervisor.statusTable)")
            #expect(sandbox.startedPIDs(of: "subject").count >= 2)
            #expect(supervisor.logLines("Child restarting", ["child.id": "subject"]).count >= 1)
        } else {
            let settled = supervisor.waitForStatus { tree in
                subject = tree.find("subject")
                return subject?.state == "stopped" && Self.siblingsRunning(tree)
            }
            #expect(settled, "'subject' did not settle as stopped: \(supervisor.statusTable)")
            #expect(subject?.pid == nil)
            #expect(subject?.restarts == 0)
            #expect(sandbox.startedPIDs(of: "subject") == [firstPID], "a \(restart) worker was started again")
            #expect(supervisor.logLines("Child not restarted", ["child.id": "subject"]).count == 1)
            #expect(supervisor.logLines("Child restarting", ["child.id": "subject"]).isEmpty)
        }
        #expect(!isAlive(firstPID), "the first 'subject' (pid \(firstPID)) is still alive")

        // The siblings were not touched, and the supervisor keeps running.
        let tree = try supervisor.status()
        for name in ["before", "after"] {
            let started = sandbox.startedPIDs(of: name)
            #expect(started.count == 1, "\(name) was started \(started.count) times: \(sandbox.records)")
            #expect(tree.find(name)?.pid == started.first, "\(name) changed pid: \(tree.renderTable())")
            #expect(tree.find(name)?.state == "running")
            #expect(tree.find(name)?.restarts == 0)
        }
        #expect(supervisor.isRunning)
        #expect(poll { zombieChildren(of: supervisor.pid).isEmpty }, "zombies left: \(zombieChildren(of: supervisor.pid))")
        #expect(try supervisor.stop() == 0, "cidp up did not stop cleanly: \(supervisor.log)")
    }
}
