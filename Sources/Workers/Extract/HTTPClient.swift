#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Wire

/// A blocking HTTP/1.1 GET client over one libcurl easy handle, reused from request to request
/// so the connection to the server stays open (keep-alive) between pages.
///
/// TLS peers are verified (`CURLOPT_SSL_VERIFYPEER` 1, `CURLOPT_SSL_VERIFYHOST` 2), against the
/// system's CA certificates or `Configuration.caBundle`; only `http` and `https` URLs are
/// accepted; libcurl never raises signals (`CURLOPT_NOSIGNAL`), so the worker's SIGTERM handling
/// is its own. Any status comes back as a response (`CURLOPT_FAILONERROR` 0): the caller decides
/// what a status means. Compressed bodies (`Content-Encoding`: whatever this libcurl decodes,
/// gzip and deflate at least) are asked for and decoded; the size limit applies to the decoded body.
///
/// Redirects are followed here, not by libcurl, so that their target can be checked against
/// `Configuration.redirects` before anything is sent there; the credential goes only to the
/// origin of the URL asked for. Every request — connection, redirects and body — ends within
/// `Configuration.timeout`.
///
/// Not thread-safe: one client per thread.
public final class HTTPClient {
    /// Where redirects (`3xx` with a `Location`) are followed.
    public enum RedirectPolicy: String, CaseIterable, Equatable, Sendable {
        /// Never: a redirect is an error.
        case none
        /// Only to the origin (scheme, host, port) of the URL asked for.
        case sameOrigin = "same-origin"
        /// Anywhere over http or https (the credential still goes only to the first origin).
        case any
    }

    /// Limits and settings of every request.
    public struct Configuration: Equatable, Sendable {
        /// Longest wait for the TCP (and TLS) connection. `CURLOPT_CONNECTTIMEOUT_MS`.
        public var connectTimeout: Duration
        /// Longest time for a whole request: connection, every redirect and the whole body
        /// (`CURLOPT_TIMEOUT_MS`, set before each hop to what remains).
        public var timeout: Duration
        /// Longest body accepted, in bytes, after decoding; a longer one is `tooLarge`.
        public var maximumBodySize: Int
        /// Sent as `Authorization` to the origin of the URL asked for; nil sends none.
        public var credential: HTTPCredential?
        /// A PEM file of CA certificates to verify TLS peers with instead of the system's
        /// (`CURLOPT_CAINFO`): a private CA.
        public var caBundle: String?
        /// Where redirects are followed.
        public var redirects: RedirectPolicy
        /// The most redirects one request follows.
        public var maximumRedirects: Int

        public init(connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(30),
                    maximumBodySize: Int = 64 << 20, credential: HTTPCredential? = nil, caBundle: String? = nil,
                    redirects: RedirectPolicy = .sameOrigin, maximumRedirects: Int = 10) {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maximumBodySize = maximumBodySize
            self.credential = credential
            self.caBundle = caBundle
            self.redirects = redirects
            self.maximumRedirects = maximumRedirects
        }
    }

    /// What the server answered.
    public struct Response: Equatable, Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The body, as received (after any transfer and content decoding).
        public var body: [UInt8]
        /// How long the server asked to wait before asking again (`Retry-After`, in seconds or
        /// as an HTTP date; libcurl reads both); nil when it did not say.
        public var retryAfter: Duration?

        public init(status: Int, body: [UInt8], retryAfter: Duration? = nil) {
            self.status = status
            self.body = body
            self.retryAfter = retryAfter
        }
    }

    /// The limits this client applies.
    public let configuration: Configuration
    let curl: LibCurl
    /// The easy handle (`CURL *`); it owns the connection cache.
    let handle: UnsafeMutableRawPointer
    /// Where the write callback puts the body; passed to libcurl as `CURLOPT_WRITEDATA`.
    let buffer: HTTPResponseBuffer
    /// What the progress callback calls; passed to libcurl as `CURLOPT_XFERINFODATA`.
    let progress = TransferProgress()
    /// libcurl's detailed message for the last failure (`CURLOPT_ERRORBUFFER`).
    let errorBuffer: UnsafeMutablePointer<CChar>
    /// Request headers for the origin asked for (with the credential, if any) and for any other
    /// (`CURLOPT_HTTPHEADER`, chosen before each hop).
    private let ownOriginHeaders: UnsafeMutablePointer<curl_slist>?
    private let otherOriginHeaders: UnsafeMutablePointer<curl_slist>?

    /// Called by libcurl while a request is under way — often while data flows, at least about
    /// once a second while none does — so a worker can heartbeat through a long request.
    /// Returning false aborts the request, which then throws `.stopped`.
    public var onProgress: (() -> Bool)? {
        get { progress.check }
        set { progress.check = newValue }
    }

    /// A client with its own easy handle, loading libcurl if no client has yet.
    /// - Throws: `ExtractError` `.libraryUnavailable` when libcurl cannot be loaded, or
    ///   `.otherTransport` when libcurl refuses an option.
    public init(configuration: Configuration = Configuration()) throws(ExtractError) {
        let curl = try LibCurl.shared()
        guard let handle = curl.easyInit() else {
            throw ExtractError(.otherTransport(curlCode: Int(CURLE_FAILED_INIT.rawValue), message: "curl_easy_init failed"))
        }
        self.configuration = configuration
        self.curl = curl
        self.handle = handle
        buffer = HTTPResponseBuffer(limit: configuration.maximumBodySize)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        otherOriginHeaders = curl.slistAppend(nil, "Accept: application/json")
        ownOriginHeaders = configuration.credential.map { curl.slistAppend(curl.slistAppend(nil, "Accept: application/json"), $0.header) }
            ?? nil
        try configureHandle()
    }

    deinit {
        curl.easyCleanup(handle)
        curl.slistFreeAll(otherOriginHeaders)
        curl.slistFreeAll(ownOriginHeaders)
        errorBuffer.deallocate()
    }

    /// Sends `GET url`, follows the redirects its policy allows, and waits for the whole answer.
    /// - Returns: the status, body and `Retry-After` of the last answer, whatever the status.
    /// - Throws: `ExtractError` naming the URL requested last: `.connectionRefused`,
    ///   `.couldNotResolve`, `.timeout` (past `configuration.timeout`), `.tooLarge`,
    ///   `.redirectRefused`, `.stopped` (`onProgress` returned false), or `.otherTransport` with
    ///   libcurl's code and message (a TLS peer that does not verify, for one). No error holds
    ///   the credential, even one a server echoed (`HTTPCredential.redact`).
    public func get(_ url: String) throws(ExtractError) -> Response {
        do {
            return try follow(url)
        } catch {
            throw redact(error)
        }
    }

    /// `error` without the credential in any of its texts.
    public func redact(_ error: ExtractError) -> ExtractError {
        guard let credential = configuration.credential else { return error }
        return error.redacted(credential.redact)
    }

    /// `GET url` and each redirect the policy allows, within one deadline.
    private func follow(_ url: String) throws(ExtractError) -> Response {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.timeout
        let origin = curl.origin(of: url)
        var target = url
        var redirects = 0
        while true {
            let remaining = clock.now.duration(to: deadline)
            guard remaining > .zero else { throw ExtractError(.timeout, url: target) }
            // The credential goes to the origin asked for only, as libcurl does on its own redirects.
            let isOwnOrigin = origin != nil && curl.origin(of: target) == origin
            let status = try perform(target, timeout: remaining, headers: isOwnOrigin && ownOriginHeaders != nil ? ownOriginHeaders : otherOriginHeaders)
            guard (300..<400).contains(status), let location = redirectURL() else {
                return Response(status: status, body: buffer.take(), retryAfter: retryAfter())
            }
            switch configuration.redirects {
            case .none:
                throw ExtractError(.redirectRefused(to: location, reason: "redirects are not followed (--allow-redirects none)"), url: target)
            case .sameOrigin where origin == nil || curl.origin(of: location) != origin:
                throw ExtractError(.redirectRefused(to: location, reason: "another origin than \(origin ?? url)'s (--allow-redirects same-origin)"),
                                   url: target)
            case .sameOrigin, .any:
                break
            }
            redirects += 1
            guard redirects <= configuration.maximumRedirects else {
                throw ExtractError(.redirectRefused(to: location, reason: "more than \(configuration.maximumRedirects) redirects"), url: url)
            }
            target = location
        }
    }

    /// One request to `url`, allowed `timeout`, sending `headers`; returns the status, the body in `buffer`.
    private func perform(_ url: String, timeout: Duration, headers: UnsafeMutablePointer<curl_slist>?) throws(ExtractError) -> Int {
        buffer.reset()
        progress.wasStopped = false
        errorBuffer[0] = 0
        let setopt = curl.easySetopt
        // libcurl copies the URL string (since 7.17), so the pointer need not outlive the call.
        for code in [
            url.withCString { cidp_curl_setopt_string(setopt, handle, CURLOPT_URL, $0) },
            cidp_curl_setopt_long(setopt, handle, CURLOPT_TIMEOUT_MS, max(1, Int(timeout.milliseconds))),
            cidp_curl_setopt_slist(setopt, handle, CURLOPT_HTTPHEADER, headers),
        ] where code != CURLE_OK {
            throw transportError(code, url: url)
        }
        let code = curl.easyPerform(handle)
        guard code == CURLE_OK else { throw transportError(code, url: url) }
        var status = 0
        _ = cidp_curl_getinfo_long(curl.easyGetinfo, handle, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    /// Where the last answer redirects to, resolved against its URL; nil without a `Location`.
    /// C: `curl_easy_getinfo(CURLINFO_REDIRECT_URL)`.
    private func redirectURL() -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard cidp_curl_getinfo_string(curl.easyGetinfo, handle, CURLINFO_REDIRECT_URL, &value) == CURLE_OK,
              let value else { return nil }
        return String(cString: value)
    }

    /// The last answer's `Retry-After`, if it had one above zero. C: `CURLINFO_RETRY_AFTER`.
    private func retryAfter() -> Duration? {
        var seconds: curl_off_t = 0
        guard cidp_curl_getinfo_off_t(curl.easyGetinfo, handle, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK,
              seconds > 0 else { return nil }
        return .seconds(seconds)
    }

    /// The error for a failed `curl_easy_perform` (or option).
    private func transportError(_ code: CURLcode, url: String) -> ExtractError {
        switch code {
        case CURLE_COULDNT_CONNECT where osErrno() == ECONNREFUSED:
            return ExtractError(.connectionRefused, url: url)
        case CURLE_COULDNT_RESOLVE_HOST:
            return ExtractError(.couldNotResolve, url: url)
        case CURLE_OPERATION_TIMEDOUT:
            return ExtractError(.timeout, url: url)
        case CURLE_FILESIZE_EXCEEDED:
            return ExtractError(.tooLarge(limit: configuration.maximumBodySize), url: url)
        case CURLE_WRITE_ERROR where buffer.isOverLimit:
            return ExtractError(.tooLarge(limit: configuration.maximumBodySize), url: url)
        case CURLE_ABORTED_BY_CALLBACK where progress.wasStopped:
            return ExtractError(.stopped, url: url)
        default:
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : curl.message(for: code)
            return ExtractError(.otherTransport(curlCode: Int(code.rawValue), message: detail), url: url)
        }
    }

    /// The `errno` of the last failed connect. C: `curl_easy_getinfo(CURLINFO_OS_ERRNO)`.
    private func osErrno() -> Int32 {
        var value = 0
        _ = cidp_curl_getinfo_long(curl.easyGetinfo, handle, CURLINFO_OS_ERRNO, &value)
        return Int32(truncatingIfNeeded: value)
    }
}

/// What libcurl's progress callback asks, and whether it stopped the transfer. A class so
/// libcurl can hold a pointer to it.
final class TransferProgress {
    var check: (() -> Bool)?
    var wasStopped = false
}
