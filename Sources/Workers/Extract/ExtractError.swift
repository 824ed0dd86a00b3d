import CCurl

/// Why the extractor could not get a page of telemetry, and from which URL.
///
/// `description` is one line naming the URL, for example
/// `GET http://127.0.0.1:8080/v1/telemetry?limit=1000: malformed body: expected a number at byte 812 (record 4, field 'pressure')`.
public struct ExtractError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Code: Equatable, Sendable {
        /// Nobody listens on the server's port (`ECONNREFUSED`).
        case connectionRefused
        /// The host name does not resolve.
        case couldNotResolve
        /// No connection, or no complete answer, within the configured time.
        case timeout
        /// Any other failure of the transfer: libcurl's code and message.
        case otherTransport(curlCode: Int, message: String)
        /// The server answered with a status other than 200; `body`: the start of what it said
        /// (at most `ExtractError.bodyExcerptLength` characters, control characters as spaces).
        case httpStatus(Int, body: String = "")
        /// The fetcher gave up: the source failed for longer than its `give_up_after` deadline;
        /// the last failure's description.
        case gaveUp(after: Duration, lastError: String)
        /// The server asked to be asked again (`Retry-After`) later than the fetcher's give-up
        /// deadline leaves: the wait asked for, what was left, and the failure's description.
        case retryAfterPastDeadline(retryAfter: Duration, left: Duration, lastError: String)
        /// The body is not a telemetry page: what was wrong, and where.
        case malformedBody(String, at: BodyLocation)
        /// The body is longer than the client accepts (decoded, when compressed).
        case tooLarge(limit: Int)
        /// The server redirected the request where the client's redirect policy does not go:
        /// the target (`Location`, resolved) and why not.
        case redirectRefused(to: String, reason: String)
        /// libcurl could not be loaded: the library or symbol, and the dynamic linker's reason.
        case libraryUnavailable(String)
        /// The fetcher was told to stop while it waited to retry.
        case stopped
    }

    /// Where in a body a decoding error was found.
    public struct BodyLocation: Equatable, Sendable, CustomStringConvertible {
        /// Byte offset from the start of the body.
        public var offset: Int
        /// Index of the record being decoded, when inside `records`.
        public var record: Int?
        /// The key whose value was being decoded, when there was one: the data contract's name
        /// of a field the page needs (`timestamp`), or the name of a field it does not (skipped).
        public var field: String?
        /// The name the source gives `field`, when it renames it (`--field timestamp=ts`: `ts`).
        public var sourceName: String?

        public init(offset: Int, record: Int? = nil, field: String? = nil, sourceName: String? = nil) {
            self.offset = offset
            self.record = record
            self.field = field
            self.sourceName = sourceName
        }

        /// `byte 812 (record 4, field 'pressure')`, `byte 30 (record 0, field 'ts' (timestamp))`.
        public var description: String {
            var context: [String] = []
            if let record { context.append("record \(record)") }
            if let field, let sourceName {
                context.append("field '\(sourceName)' (\(field))")
            } else if let field {
                context.append("field '\(field)'")
            }
            return "byte \(offset)" + (context.isEmpty ? "" : " (" + context.joined(separator: ", ") + ")")
        }
    }

    /// What went wrong.
    public var code: Code
    /// The URL requested; empty when unknown (a body decoded on its own).
    public var url: String
    /// With an HTTP status, how long the server asked to wait before the next request
    /// (`Retry-After`, in seconds or as a date); nil when it did not say.
    public var retryAfter: Duration?

    /// An error about `url`, if known.
    public init(_ code: Code, url: String = "", retryAfter: Duration? = nil) {
        self.code = code
        self.url = url
        self.retryAfter = retryAfter
    }

    /// Whether trying the same request again later may succeed: the server is down, slow,
    /// overloaded or sent a damaged body. A 4xx status (the request itself is wrong, except 408
    /// and 429, which ask for a retry), a body over the size limit, a missing libcurl or a stop
    /// request are final.
    public var isRetryable: Bool {
        switch code {
        case .connectionRefused, .couldNotResolve, .timeout, .malformedBody:
            return true
        case .httpStatus(let status, _):
            return status >= 500 || status == 408 || status == 429
        case .otherTransport(let curlCode, _):
            return Self.retryableCurlCodes.contains(curlCode)
        case .tooLarge, .redirectRefused, .libraryUnavailable, .stopped, .gaveUp, .retryAfterPastDeadline:
            return false
        }
    }

    /// Transfer failures that say the network or the server failed this time, not that the
    /// request (URL, protocol, TLS certificate) is wrong.
    private static let retryableCurlCodes: Set<Int> = Set([
        CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_PROXY, CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2,
        CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
        CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2_STREAM,
    ].map { Int($0.rawValue) })

    /// One line: the request, then what went wrong.
    public var description: String {
        let what: String
        switch code {
        case .connectionRefused:
            what = "connection refused"
        case .couldNotResolve:
            what = "could not resolve the host name"
        case .timeout:
            what = "timed out"
        case .otherTransport(let curlCode, let message):
            what = "transfer failed: \(message) (curl error \(curlCode))"
        case .httpStatus(let status, let body):
            let wait = retryAfter.map { " (Retry-After \(Self.seconds($0)))" } ?? ""
            what = "HTTP status \(status)\(wait)" + (body.isEmpty ? "" : ": \(body)")
        case .gaveUp(let after, let lastError):
            return "the source kept failing for \(Self.seconds(after)) (give_up_after): \(lastError)"
        case .retryAfterPastDeadline(let retryAfter, let left, let lastError):
            return "the source asked to be asked again in \(Self.seconds(retryAfter)) (Retry-After), later than the "
                + "\(Self.seconds(left)) its give_up_after deadline leaves: \(lastError)"
        case .malformedBody(let problem, let location):
            what = "malformed body: \(problem) at \(location)"
        case .tooLarge(let limit):
            what = "body larger than the limit of \(limit) bytes (--max-body-mb)"
        case .redirectRefused(let target, let reason):
            what = "redirected to \(target): not followed, \(reason)"
        case .libraryUnavailable(let reason):
            what = "libcurl unavailable: \(reason)"
        case .stopped:
            what = "stopped while waiting to retry"
        }
        return url.isEmpty ? what : "GET \(url): \(what)"
    }

    /// `2 s`, or `1500 ms` when not whole seconds.
    static func seconds(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    /// The same error with `redact` applied to every text it holds (the URL, a server's words, a
    /// redirect target, libcurl's message): so no secret a server echoes reaches a log line.
    public func redacted(_ redact: (String) -> String) -> ExtractError {
        var code = self.code
        switch code {
        case .otherTransport(let curlCode, let message):
            code = .otherTransport(curlCode: curlCode, message: redact(message))
        case .httpStatus(let status, let body):
            code = .httpStatus(status, body: redact(body))
        case .gaveUp(let after, let lastError):
            code = .gaveUp(after: after, lastError: redact(lastError))
        case .retryAfterPastDeadline(let retryAfter, let left, let lastError):
            code = .retryAfterPastDeadline(retryAfter: retryAfter, left: left, lastError: redact(lastError))
        case .malformedBody(let problem, var location):
            location.field = location.field.map(redact)
            location.sourceName = location.sourceName.map(redact)
            code = .malformedBody(redact(problem), at: location)
        case .redirectRefused(let target, let reason):
            code = .redirectRefused(to: redact(target), reason: redact(reason))
        case .connectionRefused, .couldNotResolve, .timeout, .tooLarge, .libraryUnavailable, .stopped:
            break
        }
        return ExtractError(code, url: redact(url), retryAfter: retryAfter)
    }

    /// The longest excerpt of an error body kept in `httpStatus`.
    public static let bodyExcerptLength = 200

    /// The start of an error body as one line: control characters as spaces, cut with `…`.
    static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(bodyExcerptLength * 4), as: UTF8.self)
        var line = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
        while line.last == " " { line.removeLast() }
        return line.count > bodyExcerptLength ? line.prefix(bodyExcerptLength - 1) + "…" : line
    }

    /// The same error, naming `url` if it named none.
    func requesting(_ url: String) -> ExtractError {
        ExtractError(code, url: self.url.isEmpty ? url : self.url, retryAfter: retryAfter)
    }
}
