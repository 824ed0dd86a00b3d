#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Wire

extension HTTPClient {
    /// Sets every option that stays the same from request to request (the URL, the deadline and
    /// the headers are set before each request, in `perform`).
    func configureHandle() throws(ExtractError) {
        let setopt = curl.easySetopt
        let bufferContext = Unmanaged.passUnretained(buffer).toOpaque()
        let progressContext = Unmanaged.passUnretained(progress).toOpaque()
        var results: [(String, CURLcode)] = [
            ("NOSIGNAL", cidp_curl_setopt_long(setopt, handle, CURLOPT_NOSIGNAL, 1)),
            ("CONNECTTIMEOUT_MS", cidp_curl_setopt_long(setopt, handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))),
            ("FAILONERROR", cidp_curl_setopt_long(setopt, handle, CURLOPT_FAILONERROR, 0)),
            ("SSL_VERIFYPEER", cidp_curl_setopt_long(setopt, handle, CURLOPT_SSL_VERIFYPEER, 1)),
            ("SSL_VERIFYHOST", cidp_curl_setopt_long(setopt, handle, CURLOPT_SSL_VERIFYHOST, 2)),
            ("TCP_KEEPALIVE", cidp_curl_setopt_long(setopt, handle, CURLOPT_TCP_KEEPALIVE, 1)),
            ("HTTPGET", cidp_curl_setopt_long(setopt, handle, CURLOPT_HTTPGET, 1)),
            // Redirects are followed by `follow`, which checks each target first.
            ("FOLLOWLOCATION", cidp_curl_setopt_long(setopt, handle, CURLOPT_FOLLOWLOCATION, 0)),
            ("PROTOCOLS_STR", cidp_curl_setopt_string(setopt, handle, CURLOPT_PROTOCOLS_STR, "http,https")),
            ("USERAGENT", cidp_curl_setopt_string(setopt, handle, CURLOPT_USERAGENT, "cidp-extractor")),
            // "": every encoding this libcurl can decode is offered, and decoded on arrival.
            ("ACCEPT_ENCODING", cidp_curl_setopt_string(setopt, handle, CURLOPT_ACCEPT_ENCODING, "")),
            // Rejects a body announced (Content-Length) past the limit before reading it; the
            // write callback enforces the limit on bodies of unknown length, and decoded ones.
            ("MAXFILESIZE_LARGE", cidp_curl_setopt_off_t(setopt, handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maximumBodySize))),
            ("ERRORBUFFER", cidp_curl_setopt_pointer(setopt, handle, CURLOPT_ERRORBUFFER, errorBuffer)),
            ("WRITEDATA", cidp_curl_setopt_pointer(setopt, handle, CURLOPT_WRITEDATA, bufferContext)),
            ("WRITEFUNCTION", cidp_curl_setopt_write_function(setopt, handle) { data, size, count, context in
                // A C function pointer: no captures; the buffer arrives as `context`.
                let buffer = Unmanaged<HTTPResponseBuffer>.fromOpaque(context!).takeUnretainedValue()
                // Returning less than was given makes libcurl abort with CURLE_WRITE_ERROR.
                return buffer.append(data, count: size * count) ? size * count : 0
            }),
            ("NOPROGRESS", cidp_curl_setopt_long(setopt, handle, CURLOPT_NOPROGRESS, 0)),
            ("XFERINFODATA", cidp_curl_setopt_pointer(setopt, handle, CURLOPT_XFERINFODATA, progressContext)),
            ("XFERINFOFUNCTION", cidp_curl_setopt_xferinfo_function(setopt, handle) { context, _, _, _, _ in
                let progress = Unmanaged<TransferProgress>.fromOpaque(context!).takeUnretainedValue()
                guard let check = progress.check, !check() else { return 0 }
                // Non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK.
                progress.wasStopped = true
                return 1
            }),
        ]
        if let caBundle = configuration.caBundle {
            results.append(("CAINFO", cidp_curl_setopt_string(setopt, handle, CURLOPT_CAINFO, caBundle)))
        }
        for (option, code) in results where code != CURLE_OK {
            throw ExtractError(.otherTransport(curlCode: Int(code.rawValue), message: "CURLOPT_\(option): \(curl.message(for: code))"))
        }
    }
}

/// The body being received, with its size limit. A class so libcurl can hold a pointer to it.
final class HTTPResponseBuffer {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var isOverLimit = false
    /// The size of the last body, to reserve as much for the next one (pages are alike).
    private var lastSize = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Past this size the buffer reserves the whole `limit` at once.
    static let wholeLimitThreshold = 1 << 20

    /// Appends `count` bytes at `data`; false (and nothing appended) past the limit.
    ///
    /// The buffer doubles as it grows up to `wholeLimitThreshold`; past it, it reserves `limit`
    /// at once — address space, not memory: a page counts in the resident set only once written —
    /// so a large body is never copied to a larger buffer, and the memory it takes stays its own
    /// size, at most `limit` (doubling would copy, holding up to one and a half times the body).
    func append(_ data: UnsafeMutablePointer<CChar>?, count: Int) -> Bool {
        guard count <= limit - bytes.count else {
            isOverLimit = true
            return false
        }
        guard let data, count > 0 else { return true }
        let needed = bytes.count + count
        if needed > bytes.capacity {
            bytes.reserveCapacity(needed > Self.wholeLimitThreshold ? limit : min(limit, max(needed, bytes.capacity * 2)))
        }
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
