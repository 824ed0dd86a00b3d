import CShims
import Posix
import Drills
import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One line of a test worker's record file: `start|ready|term NAME PID`.
struct RecordedEvent: Equatable, CustomStringConvertible {
    var event: String
    var name: String
    var pid: Int32

    var description: String { "\(event) \(name) \(pid)" }
}

extension Sandbox {
    /// The record file, parsed; malformed lines are kept as events named "?" so a test sees them.
    var recordedEvents: [RecordedEvent] {
        records.map { line in
            let words = line.split(separator: " ")
            guard words.count == 3, let pid = Int32(words[2]) else { return RecordedEvent(event: "?", name: line, pid: 0) }
            return RecordedEvent(event: String(words[0]), name: String(words[1]), pid: pid)
        }
    }

    /// The names of the workers with an `event` line, in file order.
    func recordedNames(_ event: String) -> [String] {
        recordedEvents.filter { $0.event == event }.map(\.name)
    }

    /// Runs any program to completion (with a deadline), in the sandbox, and returns its exit
    /// code (-1 on timeout) and output.
    func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(30),
             environment: [String: String] = [:]) throws -> (code: Int32, stdout: String, stderr: String) {
        let name = UUID().uuidString
        let process = try SpawnedProcess(executable: executable, arguments: arguments, directory: path,
                                         environment: environment, stdoutPath: path + "/run.\(name).out",
                                         stderrPath: path + "/run.\(name).err")
        let code: Int32
        switch process.waitForExit(timeout: timeout) {
        case .exited(let status)?: code = status
        case .signaled(let signal)?: code = signal
        case nil:
            process.send(signal: SIGKILL)
            _ = process.waitForExit(timeout: .seconds(30))
            code = -1
        }
        return (code, process.stdout, process.stderr)
    }

    var socketPath: String { runDirectory + "/cidp.sock" }
}

extension RunningSupervisor {
    /// Waits until the record file has a `ready` line for each of `names` (any order).
    func waitForReadyRecords(_ names: Set<String>, timeout: Duration = .seconds(20)) -> Bool {
        poll(timeout: timeout) { names.isSubset(of: Set(sandbox.recordedNames("ready"))) }
    }
}

/// What each open descriptor of `pid` points at (`readlink /proc/PID/fd/N`), by number.
func descriptorTargets(_ pid: Int32) -> [Int32: String] {
    let directory = "/proc/\(pid)/fd"
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    var targets: [Int32: String] = [:]
    for entry in entries {
        guard let fd = Int32(entry) else { continue }
        targets[fd] = (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + entry)) ?? "?"
    }
    return targets
}

/// The mode bits (permissions only) of a file. C: `stat`.
func permissionBits(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}

/// Sends raw bytes to a Unix stream socket, then reads until the peer closes the connection,
/// a full line arrives, or `timeout` passes. Returns what was read.
func exchangeRaw(socketPath: String, _ bytes: [UInt8], timeout: Duration = .seconds(10)) throws -> String {
    let fd = try Posix.unixStreamSocket(nonblocking: true).rawValue
    defer { close(fd) }
    var connected = cshims_unix_connect(fd, socketPath) == 0
    if !connected && (errno == EINPROGRESS || errno == EAGAIN) { connected = true }
    guard connected else { throw Errno.current }
    var offset = 0
    var received: [UInt8] = []
    var isClosed = false
    var buffer = [UInt8](repeating: 0, count: 4096)
    _ = poll(timeout: timeout) {
        if offset < bytes.count {
            // send with MSG_NOSIGNAL: a server that answers and closes first must not kill the test with SIGPIPE.
            let count = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { offset += count }
            // The server may answer (and close) before everything is written.
            if count < 0 && errno != EAGAIN && errno != EINTR { offset = bytes.count }
        }
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 { received += buffer[0..<count] }
        if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { isClosed = true }
        return isClosed || received.contains(UInt8(ascii: "\n"))
    }
    return String(decoding: received, as: UTF8.self)
}

extension RunningSupervisor {
    /// A `cidp up` started through `/bin/sh`, so the supervisor inherits a descriptor that is
    /// not close-on-exec (`exec FD>FILE`), as a careless parent would hand it.
    static func withStrayDescriptor(sandbox: Sandbox, strayFD: Int32, strayPath: String) throws -> RunningSupervisor {
        try RunningSupervisor(
            sandbox: sandbox,
            arguments: ["-c", "exec \(strayFD)>\"$1\"; exec \"$2\" up --policy \"$3\" --run-dir \"$4\"", "sh",
                        strayPath, cidpBinary, sandbox.policyPath, sandbox.runDirectory],
            executable: "/bin/sh")
    }
}

/// Whether every directory from `/` down to `path`'s parent lets others search it and `path`
/// lets others read and execute it, so that another uid can run it.
func isExecutableByOthers(_ path: String) -> Bool {
    var components = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
    guard let mode = permissionBits(path), mode & 0o005 == 0o005 else { return false }
    components.removeLast()
    var directory = ""
    for component in components {
        directory = directory.isEmpty ? component : (directory == "/" ? "/" + component : directory + "/" + component)
        guard let bits = permissionBits(directory), bits & 0o001 != 0 else { return false }
    }
    return true
}
