import Foundation
import Posix
import Supervisor
#if canImport(Glibc)
import Glibc
#endif

/// Polling with deadlines: a drill never sleeps blindly for a state, it asks again every few
/// milliseconds until the state holds or the deadline passes.
public enum Deadline {
    /// Calls `condition` every `interval` until it returns true or `timeout` passes; returns
    /// whether it held (checked once more at the deadline).
    @discardableResult
    public static func poll(timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () throws -> Bool) rethrows -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if try condition() { return true }
            Posix.sleep(for: interval)
        }
        return try condition()
    }

}

extension Duration {
    /// Seconds as a Double, for reports.
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// `12.3 s`.
    public var formattedSeconds: String { String(format: "%.1f s", secondsValue) }
}

/// A child process whose stdout and stderr go to files, started in a given directory with
/// extra environment variables, and waited for with a deadline.
public final class SpawnedProcess {
    /// How the process ended.
    public enum Ending: Equatable, CustomStringConvertible {
        case exited(code: Int32)
        case signaled(signal: Int32)

        public var description: String {
            switch self {
            case .exited(let code): return "exit code \(code)"
            case .signaled(let signal): return "killed by signal \(signal)"
            }
        }
    }

    public let stdoutPath: String
    public let stderrPath: String
    private let process = Process()

    /// Starts `executable arguments` in `directory`; `environment` is added to ours.
    /// - Throws: when the files cannot be created or the process cannot be started.
    public init(executable: String, arguments: [String], directory: String, environment: [String: String] = [:],
                stdoutPath: String, stderrPath: String) throws {
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        for path in Set([stdoutPath, stderrPath]) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw DrillError.failure("cannot create \(path)")
            }
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        let output = FileHandle(forWritingAtPath: stdoutPath)
        process.standardOutput = output
        // One file for both: one open file, so the two streams interleave instead of overwriting.
        process.standardError = stderrPath == stdoutPath ? output : FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        SpawnedProcess.register(process.processIdentifier)
    }

    deinit {
        // A drill that ends early (an error) must not leave its tree running.
        if process.isRunning {
            Posix.signal(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        SpawnedProcess.unregister(process.processIdentifier)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// What it has written to stdout so far.
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What it has written to stderr so far.
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until the process exits or `timeout` passes; nil on timeout (it is left running).
    public func waitForExit(timeout: Duration) -> Ending? {
        guard Deadline.poll(timeout: timeout, every: .milliseconds(5), { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        return ending
    }

    /// How it ended, once it has.
    public var ending: Ending? {
        guard !process.isRunning else { return nil }
        switch process.terminationReason {
        case .exit: return .exited(code: process.terminationStatus)
        case .uncaughtSignal: return .signaled(signal: process.terminationStatus)
        @unknown default: return .exited(code: process.terminationStatus)
        }
    }

    /// Sends `signal` to the process.
    public func send(signal: Int32) {
        if process.isRunning { Posix.signal(process.processIdentifier, signal) }
    }

    // MARK: Interruption

    // The running child, for the SIGINT/SIGTERM handler: an operator who interrupts a drill gets
    // its tree stopped in order (SIGTERM) rather than left running. Drills run one child at a time.
    nonisolated(unsafe) private static var interruptTarget: Int32 = 0

    private static func register(_ pid: Int32) { interruptTarget = pid }

    private static func unregister(_ pid: Int32) { if interruptTarget == pid { interruptTarget = 0 } }

    // What the handler writes before exiting, prepared beforehand (a plain pointer and count).
    nonisolated(unsafe) private static var interruptMessage: UnsafeMutablePointer<UInt8>?
    nonisolated(unsafe) private static var interruptMessageCount = 0

    /// On SIGINT or SIGTERM, forwards SIGTERM to the running child (its tree stops in order),
    /// says so on stderr, and exits 1; the drill's temporary directory, named in its header, is
    /// left in place. C: `signal`; the handler only calls `kill`, `write` and `_exit`
    /// (async-signal-safe).
    public static func forwardInterruptions() {
        register(0)  // initialises the static before a handler can read it
        let message = Array("cidp drill: interrupted; the tree under test was told to stop; its temporary directory is kept\n".utf8)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: message.count)
        buffer.initialize(from: message, count: message.count)
        interruptMessage = buffer
        interruptMessageCount = message.count
        let handler: @convention(c) (Int32) -> Void = { _ in
            let pid = SpawnedProcess.interruptTarget
            if pid > 0 { kill(pid, SIGTERM) }
            if let message = SpawnedProcess.interruptMessage { _ = write(2, message, SpawnedProcess.interruptMessageCount) }
            _exit(1)
        }
        _ = Glibc.signal(SIGINT, handler)
        _ = Glibc.signal(SIGTERM, handler)
    }
}
