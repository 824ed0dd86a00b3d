import FlyingFox
import FlyingSocks
import Foundation
import Logging
import Synchronization

/// FlyingFox as the roles that serve HTTP (the sensor simulator, the predictor) run it, in one
/// place: the requests in flight counted, served until `stop()`, the bound port reported, a stop
/// that waits for the requests being answered but not for FlyingFox's own timeout, and its log
/// lines in swift-log.
public final class ServedHTTP: Sendable {
    private let http: HTTPServer
    private let isStopping = Atomic<Bool>(false)
    private let inFlight: InFlightRequests

    /// - Parameters:
    ///   - address: where to listen (port 0: any free port, reported by `run`).
    ///   - idleTimeout: a connection that sends nothing for this many seconds is closed.
    ///   - warningLevel: the level FlyingFox's warnings are logged at (its other lines go to
    ///     debug and trace: connection chatter, and a client hanging up mid-response, are not an
    ///     operator's business; a failed bind is thrown by `run`, and logged once by its caller).
    ///   - handler: answers one request; counted in flight while it runs.
    public init(address: some SocketAddress, idleTimeout: TimeInterval, logger: Logger, warningLevel: Logger.Level,
                handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        let inFlight = InFlightRequests()
        self.inFlight = inFlight
        http = HTTPServer(
            config: HTTPServer.Configuration(address: address, timeout: idleTimeout,
                                             logger: FlyingFoxLogBridge(logger: logger, warningLevel: warningLevel)),
            handler: ClosureHTTPHandler { request in try await inFlight.counting { try await handler(request) } })
    }

    /// How many requests the handler is answering now.
    public var requestsInFlight: Int { inFlight.current }

    /// Listens, calls `onListening` with the bound port, and serves until `stop()`.
    /// - Throws: FlyingFox's `SocketError` when the address cannot be bound; other errors when
    ///   serving fails. Not those of a stop: closing the listening socket ends FlyingFox's `run`
    ///   with an error, expected then.
    public func run(onListening: @escaping @Sendable (UInt16) -> Void) async throws {
        let http = self.http
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await http.run() }
                group.addTask {
                    try await http.waitUntilListening(timeout: 30)
                    switch await http.listeningAddress {
                    case .ip4(_, let port), .ip6(_, let port): onListening(port)
                    case .unix, nil: onListening(0)
                    }
                }
                // The first error (a failed bind) cancels the waiter; otherwise serve until stopped.
                while try await group.next() != nil {}
            }
        } catch where isStopping.load(ordering: .acquiring) {
            // Told to stop: the error is the listening socket closing.
        }
    }

    /// Lets the requests being answered finish (at most a second), then closes the listening
    /// socket and every connection. FlyingFox's `stop(timeout:)` alone waits the whole timeout
    /// even with no request open (closing the listening socket does not wake its accept loop),
    /// which made every job's end a second longer: hence the count and the short timeout.
    public func stop() async {
        isStopping.store(true, ordering: .releasing)
        await inFlight.drain(within: .seconds(1))
        await http.stop(timeout: 0.05)
    }
}

/// The requests a server's handler is computing, so that a stop can let them finish without
/// waiting out a fixed timeout.
final class InFlightRequests: Sendable {
    private let count = Atomic<Int>(0)

    /// How many requests are being answered now.
    var current: Int { count.load(ordering: .acquiring) }

    /// Runs `body` counted as one request in flight.
    func counting<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        count.add(1, ordering: .acquiringAndReleasing)
        defer { count.subtract(1, ordering: .acquiringAndReleasing) }
        return try await body()
    }

    /// Returns once no request is in flight, or after `limit`.
    func drain(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while count.load(ordering: .acquiring) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// FlyingFox's log calls into swift-log: trace and debug but for warnings, at `warningLevel`.
private struct FlyingFoxLogBridge: FlyingSocks.Logging {
    let logger: Logger
    let warningLevel: Logger.Level

    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.log(level: warningLevel, "\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.debug("\(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.debug("\(critical())") }
}
