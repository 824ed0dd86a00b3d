#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Wire

/// A blocking HTTP/1.1 GET client over one libcurl easy handle, reused from request to request
/// so the connection to the server stays open (keep-alive) between pages.
///
/// TLS peers are verified (`CURLOPT_SSL_VERIFYPEER` 1, `CURLOPT_SSL_VERIFYHOST` 2); only
/// `http` and `https` URLs are accepted; libcurl never raises signals (`CURLOPT_NOSIGNAL`), so
/// the worker's SIGTERM handling is its own. Any status comes back as a response
/// (`CURLOPT_FAILONERROR` 0): the caller decides what a status means.
///
/// Not thread-safe: one client per thread.
public final class HTTPClient {
    /// Limits of every request.
    public struct Configuration: Equatable, Sendable {
        /// Longest wait for the TCP (and TLS) connection. `CURLOPT_CONNECTTIMEOUT_MS`.
        public var connectTimeout: Duration
        /// Longest time for a whole request, connection included. `CURLOPT_TIMEOUT_MS`.
        public var timeout: Duration
        /// Longest body accepted, in bytes; a longer one is `tooLarge`.
        public var maximumBodySize: Int

        public init(connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(30),
                    maximumBodySize: Int = 64 << 20) {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maximumBodySize = maximumBodySize
        }
    }

    /// What the server answered.
    public struct Response: Equatable, Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The body, as received (after any transfer decoding).
        public var body: [UInt8]

        public init(status: Int, body: [UInt8]) {
            self.status = status
            self.body = body
        }
    }

    /// The limits this client applies.
    public let configuration: Configuration
    private let curl: LibCurl
    /// The easy handle (`CURL *`); it owns the connection cache.
    private let handle: UnsafeMutableRawPointer
    /// Where the write callback puts the body; passed to libcurl as `CURLOPT_WRITEDATA`.
    private let buffer: ResponseBuffer
    /// libcurl's detailed message for the last failure (`CURLOPT_ERRORBUFFER`).
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// Request headers (`CURLOPT_HTTPHEADER`); libcurl reads them at each request.
    private let headers: UnsafeMutablePointer<curl_slist>?

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
        buffer = ResponseBuffer(limit: configuration.maximumBodySize)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        headers = curl.slistAppend(nil, "Accept: application/json")
        try configureHandle()
    }

    deinit {
        curl.easyCleanup(handle)
        curl.slistFreeAll(headers)
        errorBuffer.deallocate()
    }

    /// Sends `GET url` and waits for the whole answer.
    /// - Returns: the status and body, whatever the status.
    /// - Throws: `ExtractError` naming `url`: `.connectionRefused`, `.couldNotResolve`,
    ///   `.timeout`, `.tooLarge`, or `.otherTransport` with libcurl's code and message.
    public func get(_ url: String) throws(ExtractError) -> Response {
        buffer.reset()
        errorBuffer[0] = 0
        // libcurl copies the string (since 7.17), so the pointer need not outlive the call.
        let urlCode = url.withCString { cidp_curl_setopt_string(curl.easySetopt, handle, CURLOPT_URL, $0) }
        guard urlCode == CURLE_OK else { throw transportError(urlCode, url: url) }
        let code = curl.easyPerform(handle)
        guard code == CURLE_OK else { throw transportError(code, url: url) }
        var status = 0
        _ = cidp_curl_getinfo_long(curl.easyGetinfo, handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, body: buffer.take())
    }

    /// Sets every option that stays the same from request to request.
    private func configureHandle() throws(ExtractError) {
        let setopt = curl.easySetopt
        let context = Unmanaged.passUnretained(buffer).toOpaque()
        let results: [(String, CURLcode)] = [
            ("NOSIGNAL", cidp_curl_setopt_long(setopt, handle, CURLOPT_NOSIGNAL, 1)),
            ("CONNECTTIMEOUT_MS", cidp_curl_setopt_long(setopt, handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))),
            ("TIMEOUT_MS", cidp_curl_setopt_long(setopt, handle, CURLOPT_TIMEOUT_MS, Int(configuration.timeout.milliseconds))),
            ("FAILONERROR", cidp_curl_setopt_long(setopt, handle, CURLOPT_FAILONERROR, 0)),
            ("SSL_VERIFYPEER", cidp_curl_setopt_long(setopt, handle, CURLOPT_SSL_VERIFYPEER, 1)),
            ("SSL_VERIFYHOST", cidp_curl_setopt_long(setopt, handle, CURLOPT_SSL_VERIFYHOST, 2)),
            ("TCP_KEEPALIVE", cidp_curl_setopt_long(setopt, handle, CURLOPT_TCP_KEEPALIVE, 1)),
            ("HTTPGET", cidp_curl_setopt_long(setopt, handle, CURLOPT_HTTPGET, 1)),
            ("PROTOCOLS_STR", cidp_curl_setopt_string(setopt, handle, CURLOPT_PROTOCOLS_STR, "http,https")),
            ("USERAGENT", cidp_curl_setopt_string(setopt, handle, CURLOPT_USERAGENT, "cidp-extractor")),
            ("HTTPHEADER", cidp_curl_setopt_slist(setopt, handle, CURLOPT_HTTPHEADER, headers)),
            // Rejects a body announced (Content-Length) past the limit before reading it; the
            // write callback enforces the limit on bodies of unknown length.
            ("MAXFILESIZE_LARGE", cidp_curl_setopt_off_t(setopt, handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maximumBodySize))),
            ("ERRORBUFFER", cidp_curl_setopt_pointer(setopt, handle, CURLOPT_ERRORBUFFER, errorBuffer)),
            ("WRITEDATA", cidp_curl_setopt_pointer(setopt, handle, CURLOPT_WRITEDATA, context)),
            ("WRITEFUNCTION", cidp_curl_setopt_write_function(setopt, handle) { data, size, count, context in
                // A C function pointer: no captures; the buffer arrives as `context`.
                let buffer = Unmanaged<ResponseBuffer>.fromOpaque(context!).takeUnretainedValue()
                // Returning less than was given makes libcurl abort with CURLE_WRITE_ERROR.
                return buffer.append(data, count: size * count) ? size * count : 0
            }),
        ]
        for (option, code) in results where code != CURLE_OK {
            throw ExtractError(.otherTransport(curlCode: Int(code.rawValue), message: "CURLOPT_\(option): \(curl.message(for: code))"))
        }
    }

    /// The error for a failed `curl_easy_perform` (or `CURLOPT_URL`).
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

/// The body being received, with its size limit. A class so libcurl can hold a pointer to it.
private final class ResponseBuffer {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var isOverLimit = false
    /// The size of the last body, to reserve as much for the next one (pages are alike).
    private var lastSize = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Appends `count` bytes at `data`; false (and nothing appended) past the limit.
    func append(_ data: UnsafeMutablePointer<CChar>?, count: Int) -> Bool {
        guard count <= limit - bytes.count else {
            isOverLimit = true
            return false
        }
        guard let data, count > 0 else { return true }
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: count))
        return true
    }

    /// Empties the buffer for the next request.
    func reset() {
        bytes = []
        bytes.reserveCapacity(min(lastSize, limit))
        isOverLimit = false
    }

    /// The body received, leaving the buffer empty.
    func take() -> [UInt8] {
        let body = bytes
        lastSize = body.count
        bytes = []
        return body
    }
}
