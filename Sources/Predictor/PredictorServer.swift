import FlyingFox
import FlyingSocks
import Foundation
import HTTPServing
import Logging

/// `PredictorService` on an HTTP/1.1 socket (FlyingFox), with a body size limit: a declared
/// `Content-Length` over it is refused before anything is read (413), a chunked body as soon as
/// it passes it.
final class PredictorServer: Sendable {
    /// The address is in use (`EADDRINUSE`), or another socket error while binding.
    struct BindFailure: Error, CustomStringConvertible {
        var isAddressInUse: Bool
        var description: String
    }

    private let http: ServedHTTP

    init(host: String, port: UInt16, service: PredictorService, maximumBodyBytes: Int, logger: Logger) throws {
        let address = try sockaddr_in.inet(ip4: host, port: port)
        // A connection that sends nothing for 15 s is closed; FlyingFox's warnings are chatter here.
        http = ServedHTTP(address: address, idleTimeout: 15, logger: logger, warningLevel: .debug) { request in
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
        }
    }

    /// Listens, calls `onListening` with the bound port, and serves until `stop()`.
    /// - Throws: `BindFailure` when the address cannot be bound; other errors when serving fails.
    func run(onListening: @escaping @Sendable (UInt16) -> Void) async throws {
        do {
            try await http.run(onListening: onListening)
        } catch SocketError.failed(let type, let code, let message) where type == "Bind" {
            throw BindFailure(isAddressInUse: code == EADDRINUSE, description: message)
        }
    }

    /// Lets the requests being answered finish (at most a second), then closes every connection.
    func stop() async {
        await http.stop()
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
