import FlyingFox
import FlyingSocks
import Foundation
import HTTPServing
import Logging
import Synchronization
import Workers

/// The sensor API on an HTTP/1.1 socket (FlyingFox): `SensorSimService` plus the connection-level
/// faults. With an outage, nothing listens until it is over, so clients get ECONNREFUSED.
final class SensorSimServer: Sendable {
    /// What to serve and where.
    struct Configuration: Equatable, Sendable {
        var host = "127.0.0.1"
        /// 0 picks a free port (reported by `run`).
        var port: UInt16
        var records = 10_000
        var seed: UInt64 = 42
        var faults = SimulatorFaults()
        /// Which telemetry (`--profile`).
        var profile = SimulatorProfile.original
        /// Records per second the source grows by after the first `records` (`--follow-rate`);
        /// 0 for a finite source. A growing source ends at `TelemetryGenerator.maximumCount`.
        var followRate: Double = 0
    }

    /// A host that is not a numeric IPv4 or IPv6 address.
    struct BadHost: Error, CustomStringConvertible {
        var host: String
        var description: String { "host '\(host)' is not a numeric IPv4 or IPv6 address" }
    }

    let configuration: Configuration
    private let http: ServedHTTP

    /// - Throws: `BadHost` when `configuration.host` is not a numeric address.
    init(configuration: Configuration, logger: Logger) throws(BadHost) {
        self.configuration = configuration
        let address = try Self.address(host: configuration.host, port: configuration.port)
        let followRate = configuration.followRate
        let initial = configuration.records
        let service = SensorSimService(
            generator: TelemetryGenerator(seed: configuration.seed,
                                          count: followRate > 0 ? TelemetryGenerator.maximumCount : configuration.records,
                                          profile: configuration.profile),
            faults: configuration.faults)
        let counter = RequestCounter()
        let latency = configuration.faults.latency
        let started = ContinuousClock.now
        // A connection idle for 60 s is closed; FlyingFox's warnings stay warnings.
        http = ServedHTTP(address: address, idleTimeout: 60, logger: logger, warningLevel: .warning) { request in
            let isTelemetry = request.path == SensorSimService.telemetryPath
            let elapsed = ContinuousClock.now - started
            let available = followRate > 0
                ? initial + Int(followRate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
                : nil
            let reply = service.respond(
                method: request.method.rawValue, path: request.path,
                query: request.query.map { ($0.name, $0.value) },
                requestNumber: isTelemetry ? counter.next() : 0, available: available)
            if reply.isTelemetry, latency > .zero { try await Task.sleep(for: latency) }
            return Self.response(reply)
        }
    }

    /// The socket address of a numeric IPv4 or IPv6 `host`.
    /// - Throws: `BadHost` for anything else (names are not resolved).
    static func address(host: String, port: UInt16) throws(BadHost) -> any SocketAddress {
        do {
            return host.contains(":")
                ? try sockaddr_in6.inet6(ip6: host, port: port)
                : try sockaddr_in.inet(ip4: host, port: port)
        } catch {
            throw BadHost(host: host)
        }
    }

    /// Waits out the outage, listens, calls `onListening` with the bound port, and serves until
    /// `stop()` or cancellation.
    /// - Throws: the socket error when the address cannot be bound; `CancellationError`.
    func run(onListening: @escaping @Sendable (UInt16) -> Void) async throws {
        if configuration.faults.outage > .zero {
            try await Task.sleep(for: configuration.faults.outage)
        }
        try await http.run(onListening: onListening)
    }

    /// How many requests the handler is answering now.
    var requestsInFlight: Int { http.requestsInFlight }

    /// Lets the requests being answered finish (at most a second), then closes the listening
    /// socket and every connection.
    func stop() async {
        await http.stop()
    }

    private static func response(_ reply: SensorSimService.Reply) -> HTTPResponse {
        let body = Data(reply.body)
        return HTTPResponse(
            statusCode: statusCode(reply.status),
            headers: [.contentType: "application/json"],
            // One write for the whole page rather than 4 KiB chunks.
            body: HTTPBodySequence(data: body, suggestedBufferSize: max(4096, min(body.count, 1 << 20))))
    }

    private static func statusCode(_ status: Int) -> HTTPStatusCode {
        switch status {
        case 200: .ok
        case 400: .badRequest
        case 404: .notFound
        case 405: .methodNotAllowed
        case 500: .internalServerError
        default: HTTPStatusCode(status, phrase: "Status \(status)")
        }
    }
}

/// Numbers the telemetry requests 0, 1, 2… across connections: the request-level fault seed.
private final class RequestCounter: Sendable {
    private let value = Atomic<UInt64>(0)

    func next() -> UInt64 {
        value.add(1, ordering: .relaxed).oldValue
    }
}
