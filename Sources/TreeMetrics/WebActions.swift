import Foundation
import Supervisor

/// The web view's actions (issue 12, item 6): restart a worker, resume a halted node — offered
/// only when the policy says `[metrics] actions = true`, and each guarded against requests a
/// page of another site could make the operator's browser send:
///
/// - a per-run token, random, that the page reads from `GET /api/session` and sends back in the
///   `X-CIDP-Token` header. Another site's page cannot read that answer (the listener sends no
///   CORS headers) and cannot set a custom header on a cross-site request without a preflight
///   the listener never grants;
/// - the `Host` header must name this listener's port with an IP literal or `localhost`, so a
///   DNS-rebinding page (a domain of the attacker's resolving to 127.0.0.1) cannot read the
///   session either; an `Origin`, when sent, must be this same origin.
///
/// An action goes through the root's control socket, exactly as `cidp restart` and `cidp resume`
/// do: one engine entry point for operator requests, with the same answers and refusals, and the
/// listener's thread waits for the answer while the supervisor's loop never waits for it.
public struct WebActions: Sendable {
    /// The per-run token: 32 hex digits from the system's cryptographic generator (getrandom).
    public let token: String
    let perform: @Sendable (ControlRequest) -> ControlReply

    public init(token: String = WebActions.newToken(), perform: @escaping @Sendable (ControlRequest) -> ControlReply) {
        self.token = token
        self.perform = perform
    }

    /// Sends the request to the root of `runDirectory` over its control socket.
    public static func overControlSocket(_ runDirectory: RunDirectory) -> WebActions {
        WebActions { request in
            do {
                return try ControlClient(runDirectory: runDirectory).send(request, busyWait: .seconds(5))
            } catch {
                return ControlReply(ok: false, error: "\(error)", code: 1)
            }
        }
    }

    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The request a `POST` path asks for, or nil: `/api/restart/NAME`, `/api/resume/NAME`,
    /// `/api/resume` (everything halted). A name is a policy name's characters only.
    static func request(path: String) -> ControlRequest? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].isEmpty, parts[1] == "api" else { return nil }
        func name(_ text: Substring) -> String? {
            let allowed = text.unicodeScalars.allSatisfy {
                ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "-" || $0 == "_" || $0 == "."
            }
            return !text.isEmpty && text.count <= 128 && allowed ? String(text) : nil
        }
        switch (parts[2], parts.count) {
        case ("restart", 4): return name(parts[3]).map { .restart($0) }
        case ("resume", 3): return .resume(nil)
        case ("resume", 4): return name(parts[3]).map { .resume($0) }
        default: return nil
        }
    }

    /// Whether the request's `Host` (and `Origin`, when sent) name this listener: an IPv4 literal
    /// or `localhost`, with the listener's port.
    static func isSameOrigin(headers: [String: String], port: UInt16) -> Bool {
        guard let host = headers["host"] else { return false }
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1] == "\(port)" else { return false }
        let name = parts[0]
        let isLiteral = name == "localhost"
            || (name.split(separator: ".", omittingEmptySubsequences: false).count == 4
                && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { UInt8($0) != nil })
        guard isLiteral else { return false }
        if let origin = headers["origin"], origin != "http://\(host)" { return false }
        return true
    }

    /// Compares without an early exit, so the time taken says nothing of how much matched.
    static func tokenMatches(_ sent: String?, _ token: String) -> Bool {
        guard let sent else { return false }
        let a = Array(sent.utf8), b = Array(token.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// An answer: the HTTP status and a JSON body.
    struct Answer: Equatable {
        var status: String
        var body: [UInt8]
    }

    static func json(_ object: [String: JSONValue]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(object)) ?? Data("{}".utf8))
    }

    enum JSONValue: Encodable, Equatable {
        case bool(Bool)
        case string(String)
        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .bool(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            }
        }
    }

    static func refusal(_ status: String, _ why: String) -> Answer {
        Answer(status: status, body: json(["ok": .bool(false), "error": .string(why)]))
    }

    /// `GET /api/session`: whether actions are on, and the token when they are (same origin only).
    static func session(_ actions: WebActions?, headers: [String: String], port: UInt16) -> Answer {
        guard let actions else { return Answer(status: "200 OK", body: json(["actions": .bool(false)])) }
        guard isSameOrigin(headers: headers, port: port) else {
            return refusal("403 Forbidden", "the Host or Origin header does not name this listener")
        }
        return Answer(status: "200 OK", body: json(["actions": .bool(true), "token": .string(actions.token)]))
    }

    /// A `POST` to an action path.
    static func act(_ actions: WebActions?, path: String, headers: [String: String], port: UInt16) -> Answer {
        guard let request = request(path: path) else {
            return refusal("404 Not Found", "no such action; POST /api/restart/NAME, /api/resume or /api/resume/NAME")
        }
        guard let actions else {
            return refusal("403 Forbidden", "actions are off; set [metrics] actions = true in the policy to allow them")
        }
        guard isSameOrigin(headers: headers, port: port) else {
            return refusal("403 Forbidden", "the Host or Origin header does not name this listener")
        }
        guard tokenMatches(headers["x-cidp-token"], actions.token) else {
            return refusal("403 Forbidden", "missing or wrong X-CIDP-Token (the page reads it from /api/session)")
        }
        let reply = actions.perform(request)
        if reply.ok { return Answer(status: "200 OK", body: json(["ok": .bool(true), "message": .string(reply.message ?? "done")])) }
        // 2: refused, nothing changed; 1: begun and not done (the control socket's codes).
        let status = (reply.code ?? 2) == 2 ? "409 Conflict" : "500 Internal Server Error"
        return refusal(status, reply.error ?? "refused")
    }

    /// The request head's header fields, names lowercased (the last of a repeated name wins).
    static func headers(of head: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        let text = String(decoding: head, as: UTF8.self)
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: true).dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            fields[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
