import PortableRandom
/// The simulator's HTTP API as a pure function from a request to a reply: routing, query
/// validation, paging and the request-level faults. No sockets, no clock; the server adds them.
///
/// - `GET /v1/telemetry?cursor=C&limit=L`: a page of records (`cursor` is the decimal record
///   index, absent or empty = 0; `limit` 1…10000, default 1000); `next_cursor` is null after the
///   last record. A bad query is a 400 naming the parameter.
/// - `GET /health`: `{"status":"ok","records":N}`.
/// - anything else: 404 (405 for another method on a known path).
public struct SensorSimService: Sendable {
    /// The largest page a client may ask for.
    public static let maximumLimit = 10_000
    /// The page size when the client names none.
    public static let defaultLimit = 1000
    public static let telemetryPath = "/v1/telemetry"
    public static let healthPath = "/health"

    /// What to send back.
    public struct Reply: Equatable, Sendable {
        public var status: Int
        public var body: [UInt8]
        /// Telemetry replies carry the latency fault.
        public var isTelemetry = false
    }

    public let generator: TelemetryGenerator
    public let faults: SimulatorFaults

    public init(generator: TelemetryGenerator, faults: SimulatorFaults) {
        self.generator = generator
        self.faults = faults
    }

    /// The reply to `method path?query`; `requestNumber` (0, 1, 2… per telemetry request)
    /// seeds the request-level fault decisions.
    /// `available`: how many records an open-ended (`--follow-rate`) source has produced so far;
    /// nil for a finite source of `generator.count` records.
    public func respond(method: String, path: String, query: [(name: String, value: String)], requestNumber: UInt64,
                        available: Int? = nil) -> Reply {
        switch path {
        case Self.telemetryPath:
            guard method == "GET" else { return Self.methodNotAllowed(method, path) }
            var reply = telemetry(query: query, requestNumber: requestNumber, available: available)
            reply.isTelemetry = true
            return reply
        case Self.healthPath:
            guard method == "GET" else { return Self.methodNotAllowed(method, path) }
            return Reply(status: 200, body: TelemetryJSON.health(records: generator.count))
        default:
            return Reply(status: 404, body: TelemetryJSON.error("no such path '\(path)'; try \(Self.telemetryPath) or \(Self.healthPath)"))
        }
    }

    private func telemetry(query: [(name: String, value: String)], requestNumber: UInt64, available: Int?) -> Reply {
        var random = SplitMix64(seed: generator.seed, index: requestNumber, stream: .requestFaults)
        // Both draws happen on every request so that each rate's decisions stand alone.
        let http500Draw = random.nextUnit()
        let malformedDraw = random.nextUnit()
        if http500Draw < faults.http500Rate {
            return Reply(status: 500, body: TelemetryJSON.error("simulated internal server error"))
        }
        let cursor: Int
        let limit: Int
        do {
            // An open-ended source lets a cursor run ahead of what it has produced (a restarted
            // simulator): the client simply gets nothing new yet.
            (cursor, limit) = try parsePaging(query, isOpenEnded: available != nil)
        } catch {
            return error.reply
        }
        let body = TelemetryJSON.page(generator, cursor: cursor, limit: limit, faults: faults, available: available)
        guard malformedDraw < faults.malformedRate else { return Reply(status: 200, body: body) }
        // Cut mid-document: an object missing its closing brace is never valid JSON.
        return Reply(status: 200, body: Array(body.prefix(max(1, body.count / 2))))
    }

    private struct BadQuery: Error {
        var reply: Reply
    }

    private func parsePaging(_ query: [(name: String, value: String)], isOpenEnded: Bool) throws(BadQuery) -> (cursor: Int, limit: Int) {
        let cursorText = query.last { $0.name == "cursor" }?.value ?? ""
        let limitText = query.last { $0.name == "limit" }?.value ?? ""
        var cursor = 0
        if !cursorText.isEmpty {
            guard let value = Self.decimal(cursorText) else {
                throw BadQuery(reply: Self.badRequest("cursor '\(cursorText)' is not a record index (expected a decimal from 0 to \(generator.count))", parameter: "cursor"))
            }
            guard isOpenEnded || value <= generator.count else {
                throw BadQuery(reply: Self.badRequest("cursor \(value) is past the end (\(generator.count) records)", parameter: "cursor"))
            }
            cursor = value
        }
        var limit = Self.defaultLimit
        if !limitText.isEmpty {
            guard let value = Self.decimal(limitText), (1...Self.maximumLimit).contains(value) else {
                throw BadQuery(reply: Self.badRequest("limit '\(limitText)' is not a page size (expected 1...\(Self.maximumLimit))", parameter: "limit"))
            }
            limit = value
        }
        return (cursor, limit)
    }

    /// A non-negative decimal of ASCII digits only (no sign, no spaces), or nil.
    private static func decimal(_ text: String) -> Int? {
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    private static func badRequest(_ message: String, parameter: String) -> Reply {
        Reply(status: 400, body: TelemetryJSON.error(message, parameter: parameter))
    }

    private static func methodNotAllowed(_ method: String, _ path: String) -> Reply {
        Reply(status: 405, body: TelemetryJSON.error("method \(method) not allowed on \(path); use GET"))
    }
}
