import FlyingFox
import FlyingSocks
import Foundation
import Logging
import Synchronization
import Workers

/// `PredictorService` on an HTTP/1.1 socket (FlyingFox), with a body size limit: a declared
/// `Content-Length` over it is refused before anything is read (413), a chunked body as soon as
/// it passes it.
final class PredictorServer: Sendable {
    /// The address is in use (`EADDRINUSE`), or another socket error while binding.
    struct BindFailure: Error, CustomStringConvertible {
        var isAddressInUse: Bool
        var description: String
    }

    private let http: HTTPServer
    private let isStopping = Atomic<Bool>(false)
    private let inFlight: InFlightRequests

    init(host: String, port: UInt16, service: PredictorService, maximumBodyBytes: Int, logger: Logger) throws {
        let address = try sockaddr_in.inet(ip4: host, port: port)
        let inFlight = InFlightRequests()
        self.inFlight = inFlight
        let handler = ClosureHTTPHandler { request in try await inFlight.counting {
            var body: [UInt8] = []
            if request.method == .POST {
                if let declared = request.bodySequence.count, declared > maximumBodyBytes {
                    return Self.response(PredictorService.error(413, "body_too_large",
                        "a body of \(declared) bytes; at most \(maximumBodyBytes)"))
                }
                for try await chunk in request.bodySequence {
                    body.append(contentsOf: chunk)
                    if body.count > maximumBodyBytes {
                        return Self.response(PredictorService.error(413, "body_too_large",
                            "a body of more than \(maximumBodyBytes) bytes"))
                    }
                }
            }
            return Self.response(service.respond(method: request.method.rawValue, path: request.path, body: body))
        } }
        // `timeout`: a connection that sends nothing for 15 s is closed.
        http = HTTPServer(config: HTTPServer.Configuration(address: address, timeout: 15,
                                                           logger: FlyingFoxLogBridge(logger: logger)),
                          handler: handler)
    }

    /// Listens, calls `onListening` with the bound port, and serves until `stop()`.
    /// - Throws: `BindFailure` when the address cannot be bound; other errors when serving fails.
    func run(onListening: @escaping @Sendable (UInt16) -> Void) async throws {
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
                while try await group.next() != nil {}
            }
        } catch SocketError.failed(let type, let code, let message) where type == "Bind" {
            throw BindFailure(isAddressInUse: code == EADDRINUSE, description: message)
        } catch where isStopping.load(ordering: .acquiring) {
            // Closing the listening socket ends `run` with an error: expected when told to stop.
        }
    }

    func stop() async {
        isStopping.store(true, ordering: .releasing)
        await inFlight.drain(within: .seconds(1))
        await http.stop(timeout: 0.05)
    }

    private static func response(_ reply: PredictorService.Reply) -> HTTPResponse {
        HTTPResponse(statusCode: HTTPStatusCode(reply.status, phrase: phrase(reply.status)),
                     headers: [.contentType: "application/json"], body: Data(reply.body))
    }

    private static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}

/// FlyingFox's log calls into swift-log at debug, as the simulator's: connection chatter and a
/// client hanging up are not an operator's business; a failed bind is thrown by `run` and logged once.
private struct FlyingFoxLogBridge: FlyingSocks.Logging {
    let logger: Logger

    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.debug("\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.debug("\(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.debug("\(critical())") }
}
