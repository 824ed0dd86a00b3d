import Foundation
import Posix
import Supervisor
#if canImport(Glibc)
import Glibc
#endif

/// The metrics listener as the policy asks for it, bound before `cidp up` creates anything:
/// binding creates nothing on disk, so a refusal leaves nothing to undo.
public struct MetricsListener: Sendable {
    public let fd: FileDescriptor
    /// The address bound (with the port the kernel chose for port 0).
    public let address: MetricsAddress

    /// A listener already bound: handed over across a re-exec of the root.
    public init(fd: FileDescriptor, address: MetricsAddress) {
        self.fd = fd
        self.address = address
    }

    public enum Opened: Sendable {
        case listening(MetricsListener)
        case off
        /// No `listen` in the policy and the default port is taken (most likely by another tree
        /// on this machine): the run goes on without metrics; `why` is for a warning.
        case defaultTaken(why: String)
    }

    /// Binds what `settings` asks for.
    /// - Throws: `Problem` (one line naming the address) when an address the policy set
    ///   explicitly cannot be bound: taken, or not this machine's.
    public static func open(_ settings: MetricsSettings) throws(Problem) -> Opened {
        switch settings.listen {
        case .off:
            return .off
        case .implicitDefault:
            let address = MetricsAddress(host: MetricsSettings.defaultHost, port: MetricsSettings.defaultPort)
            do throws(Errno) {
                return .listening(try bind(address))
            } catch {
                return .defaultTaken(why: "cannot listen on \(address) (the default; set [metrics] listen to choose): \(error)")
            }
        case .address(let host, let port):
            let address = MetricsAddress(host: host, port: port)
            do throws(Errno) {
                return .listening(try bind(address))
            } catch {
                throw Problem(description: "[metrics] listen \"\(address)\": cannot listen there: \(error)")
            }
        }
    }

    private static func bind(_ address: MetricsAddress) throws(Errno) -> MetricsListener {
        let (fd, port) = try Posix.listenTCP(host: address.host, port: address.port)
        return MetricsListener(fd: fd, address: MetricsAddress(host: address.host, port: port))
    }

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }
}

/// Serves `GET /metrics` (and the web view: `/`, `/app.js`, `/api/status`, with its guarded
/// actions when the policy allows them — `WebActions`) on the
/// listener, one connection at a time, on a thread of its own: the
/// supervisor's epoll loop never waits for a scrape (it publishes snapshots to a `MetricsBoard`).
///
/// Why a hand-written HTTP/1.1 responder rather than a library: the only candidates here are
/// FlyingFox, which brings FoundationNetworking and with it libcurl's ~30 shared libraries into
/// `cidp` — the executable every worker is exec'd from, adding about 5 ms to every spawn and to
/// crash-to-ready (docs/BENCHMARKS.md; the simulator keeps FlyingFox in its own executable for
/// that reason) — and Hummingbird, which brings SwiftNIO's event loops and several minutes of
/// build for a few GETs and a bodiless POST on loopback. The protocol needed is tiny: read one request head
/// (bounded to 8 KiB and 3 s, 2 s per read or write), answer with `Connection: close`, close.
public final class MetricsServer: @unchecked Sendable {
    let listener: MetricsListener
    let board: MetricsBoard
    let version: String
    let warehouse: (@Sendable () -> WarehouseFigures?)?
    /// The web view's restart and resume, when the policy allows them (`[metrics] actions`).
    let actions: WebActions?

    /// The warehouse's figures, read at most once per `warehouseInterval` (the page polls twice a
    /// second); only the listener's thread touches it.
    private var cachedWarehouse: (at: Duration, figures: WarehouseFigures?)?
    static let warehouseInterval: Duration = .seconds(1)

    private func warehouseFigures() -> WarehouseFigures? {
        guard let warehouse else { return nil }
        let now = Posix.monotonicNow()
        if let cached = cachedWarehouse, now - cached.at < Self.warehouseInterval { return cached.figures }
        let figures = warehouse()
        cachedWarehouse = (now, figures)
        return figures
    }

    /// Largest request head read; a longer one is answered 431.
    static let maximumHeadBytes = 8192
    static let ioTimeout: Duration = .seconds(2)
    static let headDeadline: Duration = .seconds(3)

    public init(listener: MetricsListener, board: MetricsBoard, version: String,
                warehouse: (@Sendable () -> WarehouseFigures?)?, actions: WebActions? = nil) {
        self.listener = listener
        self.board = board
        self.version = version
        self.warehouse = warehouse
        self.actions = actions
    }

    /// Starts the listener's thread (it inherits the caller's blocked signals: start it after
    /// `SupervisorRuntime.takeOverSignals`). It runs until the process exits.
    public func start() {
        let thread = Thread { [self] in serve() }
        thread.name = "cidp-metrics"
        thread.start()
    }

    private func serve() {
        while true {
            let connection: FileDescriptor
            do throws(Errno) {
                connection = try Posix.acceptTCP(listener.fd, timeout: Self.ioTimeout)
            } catch {
                if error.rawValue == EBADF || error.rawValue == EINVAL { return }
                // Out of descriptors, or a connection reset before accept: try again shortly.
                Posix.sleep(for: .milliseconds(50))
                continue
            }
            handle(connection)
            Posix.close(connection)
        }
    }

    private func handle(_ connection: FileDescriptor) {
        var head: [UInt8] = []
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        // A whole head within the deadline: a client trickling a byte a second cannot hold the
        // listener (it serves one connection at a time) longer than that.
        let deadline = Posix.monotonicNow() + Self.headDeadline
        while !Self.contains(head, terminator) {
            guard Posix.monotonicNow() < deadline else { return }
            guard head.count < Self.maximumHeadBytes else {
                return respond(connection, status: "431 Request Header Fields Too Large", body: "request head too large\n")
            }
            guard let bytes = Posix.readSome(connection, capacity: Self.maximumHeadBytes - head.count) else { return }
            head += bytes
        }
        let requestLine = head.prefix { $0 != UInt8(ascii: "\r") }
        let parts = String(decoding: requestLine, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return respond(connection, status: "400 Bad Request", body: "bad request\n")
        }
        let method = parts[0]
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let headers = WebActions.headers(of: head)
        // The one kind of request that changes the tree: an action, guarded in `WebActions`.
        if method == "POST" && path.hasPrefix("/api/") {
            let answer = WebActions.act(actions, path: path, headers: headers, port: listener.address.port)
            return respond(connection, status: answer.status, body: answer.body, contentType: "application/json")
        }
        guard method == "GET" || method == "HEAD" else {
            return respond(connection, status: "405 Method Not Allowed", body: "only GET, and POST to /api/ actions\n",
                           extra: "Allow: GET, HEAD, POST\r\n")
        }
        switch path {
        case "/api/session":
            let answer = WebActions.session(actions, headers: headers, port: listener.address.port)
            respond(connection, status: answer.status, body: answer.body, contentType: "application/json",
                    headOnly: method == "HEAD")
        case "/metrics":
            let body = MetricsExposition.render(snapshot: board.snapshot(), warehouse: warehouseFigures(), version: version)
            respond(connection, status: "200 OK", body: body, contentType: "text/plain; version=0.0.4; charset=utf-8",
                    headOnly: method == "HEAD")
        case "/":
            respond(connection, status: "200 OK", body: Array(WebView.page.utf8), contentType: "text/html; charset=utf-8",
                    extra: "Content-Security-Policy: \(WebView.contentSecurityPolicy)\r\n", headOnly: method == "HEAD")
        case "/app.js":
            respond(connection, status: "200 OK", body: Array(WebView.script.utf8), contentType: "text/javascript; charset=utf-8",
                    headOnly: method == "HEAD")
        case "/api/status":
            respond(connection, status: "200 OK", body: WebView.statusJSON(snapshot: board.snapshot()),
                    contentType: "application/json", headOnly: method == "HEAD")
        case "/api/throughput":
            respond(connection, status: "200 OK", body: WebView.throughputJSON(board.throughput()),
                    contentType: "application/json", headOnly: method == "HEAD")
        case "/api/warehouse":
            respond(connection, status: "200 OK", body: WebView.warehouseJSON(warehouseFigures()),
                    contentType: "application/json", headOnly: method == "HEAD")
        default:
            respond(connection, status: "404 Not Found", body: "cidp serves /, /api/status, /api/warehouse and /metrics here\n",
                    headOnly: method == "HEAD")
        }
    }

    private func respond(_ connection: FileDescriptor, status: String, body: String, extra: String = "", headOnly: Bool = false) {
        respond(connection, status: status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8",
                extra: extra, headOnly: headOnly)
    }

    private func respond(_ connection: FileDescriptor, status: String, body: [UInt8], contentType: String,
                         extra: String = "", headOnly: Bool = false) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + "Cache-Control: no-store\r\nConnection: close\r\n\(extra)\r\n"
        // A client that went away or stalled past the timeout is simply dropped.
        try? Posix.sendAll(connection, Array(head.utf8) + (headOnly ? [] : body))
    }

    static func contains(_ bytes: [UInt8], _ pattern: [UInt8]) -> Bool {
        guard bytes.count >= pattern.count else { return false }
        for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
            if Array(bytes[start..<(start + pattern.count)]) == pattern { return true }
        }
        return false
    }
}
