#if canImport(Glibc)
import Glibc
#endif
import Posix
import Logging

/// Speaks systemd's notification protocol (sd_notify(3)) for the root: one datagram per message
/// on an `AF_UNIX`/`SOCK_DGRAM` socket to `NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). Without `NOTIFY_SOCKET` it does nothing. What to send and when is decided by
/// `SystemdNotifications`; this class reads the environment and sends.
///
/// A failed send never disturbs the tree: the first one is logged at warning level, later ones
/// only at debug level, and sending goes on (a restarted systemd listens again).
final class SystemdNotifier {
    /// The variables systemd sets for the service's main process. They are the root's alone:
    /// a worker that inherited them could speak for the root (and keep a hung root's watchdog fed).
    static let environmentVariables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// Where the datagrams go; nil: not under systemd (or an address we cannot use).
    let address: String?
    private(set) var notifications: SystemdNotifications
    /// What the loader last reported, for the status line.
    var load: SystemdNotifications.LoadProgress?
    /// Whether the tree has been ready (the root's `treeReady` notice).
    var hasTreeBeenReady = false
    /// Whether the root gave up: its orderly stop is under way.
    var hasRootGivenUp = false
    private let logger: Logger
    private var fd: FileDescriptor?
    private var hasWarned = false

    /// - Parameters:
    ///   - environment: the variables systemd set (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    ///   - pid: this process: the watchdog is ours only when `WATCHDOG_PID` is unset or names it.
    init(environment: [String: String], pid: Int32, logger: Logger) {
        self.logger = logger
        let settings = Self.settings(from: environment, pid: pid)
        address = settings.address
        notifications = SystemdNotifications(pingInterval: settings.address == nil ? nil : settings.pingInterval)
        for problem in settings.problems {
            logger.warning("systemd notification setting ignored", metadata: ["reason": "\(problem)"])
        }
        if let address {
            var metadata: Logger.Metadata = ["notify.socket": "\(address)"]
            if let interval = notifications.pingInterval { metadata["watchdog.ping_ms"] = "\(interval.milliseconds)" }
            logger.info("Notifying systemd", metadata: metadata)
        }
    }

    /// From this process's environment. C: `getenv`.
    convenience init(logger: Logger) {
        var environment: [String: String] = [:]
        for name in Self.environmentVariables {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        self.init(environment: environment, pid: getpid(), logger: logger)
    }

    deinit {
        if let fd { Posix.close(fd) }
    }

    var isEnabled: Bool { address != nil }

    /// When `update` has something to check next; nil when not under systemd.
    var nextDeadline: Duration? { isEnabled ? notifications.nextDeadline : nil }

    /// Sends what is due at `now` (see `SystemdNotifications.update`).
    func update(now: Duration, isReady: Bool, isStopping: Bool, status: () -> String) {
        guard isEnabled else { return }
        for message in notifications.update(now: now, isReady: isReady, isStopping: isStopping, status: status) {
            send(message)
        }
    }

    private func send(_ message: String) {
        guard let address else { return }
        do throws(Errno) {
            let socket: FileDescriptor
            if let fd { socket = fd } else { socket = try Posix.unixDatagramSocket() }
            fd = socket
            try Posix.sendDatagram(socket, Array(message.utf8), to: address)
        } catch {
            let metadata: Logger.Metadata = ["notify.socket": "\(address)", "message": "\(message)", "error": "\(error)"]
            if hasWarned {
                logger.debug("Cannot notify systemd", metadata: metadata)
            } else {
                hasWarned = true
                logger.warning("Cannot notify systemd; later failures are logged at debug level", metadata: metadata)
            }
        }
    }

    /// What the environment asks for.
    struct Settings: Equatable {
        var address: String?
        var pingInterval: Duration?
        /// Why variables that are set were ignored.
        var problems: [String] = []
    }

    /// Reads `NOTIFY_SOCKET` (an absolute path or `@name`; empty or unset: not under systemd),
    /// `WATCHDOG_USEC` (positive microseconds; pings go at half of it) and `WATCHDOG_PID` (the
    /// watchdog is someone else's when it names another process), as sd_watchdog_enabled(3) does.
    static func settings(from environment: [String: String], pid: Int32) -> Settings {
        var settings = Settings()
        if let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty {
            if socket.hasPrefix("/") || (socket.hasPrefix("@") && socket.count > 1) {
                settings.address = socket
            } else {
                settings.problems.append("NOTIFY_SOCKET '\(socket)' is neither an absolute path nor @name")
            }
        }
        guard let text = environment["WATCHDOG_USEC"] else { return settings }
        guard let microseconds = Int64(text), microseconds > 0 else {
            settings.problems.append("WATCHDOG_USEC '\(text)' is not a positive number of microseconds")
            return settings
        }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != pid { return settings }
        settings.pingInterval = .microseconds(microseconds) / 2
        return settings
    }
}
