#if canImport(Glibc)
import Glibc
#endif
import Posix
import Foundation

/// What a root hands the root it re-executes into (`cidp upgrade --root`, issue 14 item 4): the
/// whole tree state between two events, and the descriptors that carry it on — the control
/// socket, every worker's control channel and output pipes, the data channels, the clients
/// waiting for an answer, and those `cidp up` itself holds (the locks, the metrics listener).
///
/// The descriptors stay open across `execve` (their close-on-exec flag cleared just before); the
/// state travels as JSON in a memory file (`memfd_create`) whose descriptor is named by
/// `variable` in the new root's environment. Same pid, same children, same descriptors: no worker
/// notices, and none restarts. The format is versioned; a binary that does not read this version
/// is refused before the exec (`cidp upgrade --root` asks it first: `formatQueryArgument`).
public struct RootHandover: Codable, Sendable {
    /// Bumped whenever what is carried changes meaning. 2: a worker's spec carries its role,
    /// executable and arguments instead of an argv (typed roles), an upgrade its previous executable.
    public static let currentFormat = 2
    /// The environment variable naming the memory file's descriptor.
    public static let variable = "CIDP_ROOT_HANDOVER"
    /// `cidp <this>` prints `cidp-root-handover <format>` and exits 0: how the old root checks the
    /// new binary can take over before it gives itself up.
    public static let formatQueryArgument = "root-handover-format"
    public static var formatLine: String { "cidp-root-handover \(currentFormat)" }

    struct Control: Codable, Sendable {
        var fd: FileDescriptor
        var element: ElementID
        var pid: Int32
    }

    struct Output: Codable, Sendable {
        var fd: FileDescriptor
        var element: ElementID
        var pid: Int32
        var stream: String
    }

    struct Client: Codable, Sendable {
        var fd: FileDescriptor
        var acceptedAt: Duration
        var received: [UInt8]
        /// nil: still sending its request; else the ticket it waits for, or -1 for a `stop` waiter.
        var ticket: Int?
    }

    public var format: Int
    var tree: SupervisorTree
    var listenFD: FileDescriptor
    var controls: [Control]
    var outputs: [Output]
    var clients: [Client]
    var channels: DataChannels?
    var recentOutput: [Int32: [String]]
    var lastErrors: [Int32: String]
    var latestPID: [ElementID: Int32]
    var nextTicket: Int
    var figures: RuntimeFigures
    /// The client that asked for the re-exec: answered by the new root once it runs.
    var requester: FileDescriptor?
    /// The build the old root ran, for the answer and the log.
    public var previousBuild: String
    /// What `cidp up` carries for itself (run id, ports, lock descriptors…), opaque here.
    public var host: [String: String]

    /// Writes the handover to a new memory file. - Returns: its descriptor (not close-on-exec).
    func write() throws(Errno) -> FileDescriptor {
        let encoder = JSONEncoder()
        let data: Data
        do { data = try encoder.encode(self) } catch { throw Errno(rawValue: EINVAL) }
        let fd = try Posix.memoryFile(named: "cidp-root-handover")
        if let failure = data.withUnsafeBytes({ Posix.writeFully(fd, $0).error }) {
            Posix.close(fd)
            throw failure
        }
        _ = lseek(fd.rawValue, 0, SEEK_SET)
        return fd
    }

    /// The handover this process was started with, if any (read once, its memory file closed, the
    /// variable removed so that no worker inherits it).
    /// - Throws: `Problem` naming what is wrong (an unreadable or foreign format): the new root
    ///   cannot take over then.
    public static func received() throws(Problem) -> RootHandover? {
        guard let text = getenv(variable).map({ String(cString: $0) }) else { return nil }
        unsetenv(variable)
        guard let number = Int32(text), number > 2 else { throw Problem(description: "\(variable)=\(text): not a descriptor") }
        let fd = FileDescriptor(rawValue: number)
        defer { Posix.close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count: Int?
            do throws(Errno) { count = try Posix.readAvailable(fd, into: &buffer) } catch {
                throw Problem(description: "\(variable): cannot read descriptor \(fd): \(error)")
            }
            guard let count else { break }
            bytes += buffer[0..<count]
        }
        let handover: RootHandover
        do { handover = try JSONDecoder().decode(RootHandover.self, from: Data(bytes)) } catch {
            throw Problem(description: "\(variable): the handover cannot be read: \(error)")
        }
        guard handover.format == currentFormat else {
            throw Problem(description: "\(variable): handover format \(handover.format), this binary reads \(currentFormat)")
        }
        return handover
    }

    /// Every descriptor the new root needs open.
    var descriptors: [FileDescriptor] {
        var fds = [listenFD] + controls.map(\.fd) + outputs.map(\.fd) + clients.map(\.fd)
        if let channels { fds += channels.allDescriptors }
        return fds
    }

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }
}
