#if canImport(Glibc)
import Glibc
#endif
import CCurl

/// The libcurl functions the extractor uses, resolved from `libcurl.so.4` at run time.
///
/// `CCurl`'s module map does not link libcurl: linking it would make every `cidp worker` exec
/// load some 30 shared libraries although only the extractor needs them (docs/BENCHMARKS.md).
/// The first `LibCurl.shared()` loads the library (`dlopen`, `RTLD_NOW | RTLD_LOCAL`),
/// resolves each symbol (`dlsym`) and calls `curl_global_init`; later calls return the same
/// value, or the same error. The library is never unloaded.
///
/// `curl_easy_setopt` and `curl_easy_getinfo` are variadic: they are called only through the
/// typed `cidp_curl_setopt_*`/`cidp_curl_getinfo_*` wrappers of `shim.h`, never cast to a
/// non-variadic Swift function type.
public struct LibCurl: @unchecked Sendable {
    /// The shared object loaded: the ABI-4 soname every libcurl since 7.16 carries.
    public static let libraryName = "libcurl.so.4"

    let globalInit: cidp_curl_global_init_fn
    let easyInit: cidp_curl_easy_init_fn
    let easyCleanup: cidp_curl_easy_cleanup_fn
    let easyReset: cidp_curl_easy_reset_fn
    let easyPerform: cidp_curl_easy_perform_fn
    let easyStrerror: cidp_curl_easy_strerror_fn
    // Variadic: Swift imports these pointers as `OpaquePointer`, callable only from shim.h.
    let easySetopt: cidp_curl_easy_setopt_fn
    let easyGetinfo: cidp_curl_easy_getinfo_fn
    let slistAppend: cidp_curl_slist_append_fn
    let slistFreeAll: cidp_curl_slist_free_all_fn
    let versionFunction: cidp_curl_version_fn
    let curlFree: cidp_curl_free_fn
    let urlNew: cidp_curl_url_fn
    let urlCleanup: cidp_curl_url_cleanup_fn
    let urlSet: cidp_curl_url_set_fn
    let urlGet: cidp_curl_url_get_fn

    /// The process's libcurl, loaded and initialised on first use.
    /// - Throws: `ExtractError` with code `.libraryUnavailable` naming the library or the
    ///   symbol that could not be loaded; every later call throws the same error.
    public static func shared() throws(ExtractError) -> LibCurl {
        try loaded.get()
    }

    // A global `let` is initialised once, thread-safely, on first access: `curl_global_init`
    // is not thread-safe and must run once per process.
    private static let loaded: Result<LibCurl, ExtractError> = {
        do throws(ExtractError) {
            return .success(try LibCurl.load(from: libraryName))
        } catch {
            return .failure(error)
        }
    }()

    /// The version line of the loaded libcurl, e.g. `libcurl/7.88.1 OpenSSL/3.0.15 …`.
    /// C: `curl_version()`.
    public var version: String {
        versionFunction().map { String(cString: $0) } ?? "unknown"
    }

    /// The one-line message libcurl gives for `code`. C: `curl_easy_strerror`.
    func message(for code: CURLcode) -> String {
        easyStrerror(code).map { String(cString: $0) } ?? "curl error \(code.rawValue)"
    }

    /// The origin of `url` as libcurl parses it: scheme and host in lower case, and the port
    /// (the scheme's default when the URL names none), e.g. `https://api.example.com:443`; nil
    /// when libcurl cannot parse it. Two URLs are of one origin when these are equal (RFC 6454).
    /// C: `curl_url`, `curl_url_set(CURLUPART_URL)`, `curl_url_get` of the scheme, host and port.
    func origin(of url: String) -> String? {
        guard let handle = urlNew() else { return nil }
        defer { urlCleanup(handle) }
        guard url.withCString({ urlSet(handle, CURLUPART_URL, $0, 0) }) == CURLUE_OK else { return nil }
        func part(_ part: CURLUPart, flags: UInt32 = 0) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard urlGet(handle, part, &value, flags) == CURLUE_OK, let value else { return nil }
            defer { curlFree(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME), let host = part(CURLUPART_HOST),
              let port = part(CURLUPART_PORT, flags: UInt32(CURLU_DEFAULT_PORT)) else { return nil }
        return "\(scheme.lowercased())://\(host.lowercased()):\(port)"
    }

    /// Loads `library`, resolves every symbol and calls `curl_global_init(CURL_GLOBAL_ALL)`.
    /// Internal for tests, which load the wrong library on purpose; everything else goes
    /// through `shared()`.
    static func load(from library: String) throws(ExtractError) -> LibCurl {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw ExtractError(.libraryUnavailable("dlopen \(library): \(lastDynamicLinkerError())"))
        }
        let curl: LibCurl
        do {
            /// The address of `symbol` as the C function type `type`. C: `dlsym`.
            func resolve<Function>(_ symbol: String, as type: Function.Type) throws(ExtractError) -> Function {
                _ = dlerror()  // clear any earlier error, so the one read below is this call's
                guard let address = dlsym(handle, symbol) else {
                    throw ExtractError(.libraryUnavailable("dlsym \(symbol) in \(library): \(lastDynamicLinkerError())"))
                }
                return unsafeBitCast(address, to: type)
            }
            curl = LibCurl(
                globalInit: try resolve("curl_global_init", as: cidp_curl_global_init_fn.self),
                easyInit: try resolve("curl_easy_init", as: cidp_curl_easy_init_fn.self),
                easyCleanup: try resolve("curl_easy_cleanup", as: cidp_curl_easy_cleanup_fn.self),
                easyReset: try resolve("curl_easy_reset", as: cidp_curl_easy_reset_fn.self),
                easyPerform: try resolve("curl_easy_perform", as: cidp_curl_easy_perform_fn.self),
                easyStrerror: try resolve("curl_easy_strerror", as: cidp_curl_easy_strerror_fn.self),
                easySetopt: try resolve("curl_easy_setopt", as: cidp_curl_easy_setopt_fn.self),
                easyGetinfo: try resolve("curl_easy_getinfo", as: cidp_curl_easy_getinfo_fn.self),
                slistAppend: try resolve("curl_slist_append", as: cidp_curl_slist_append_fn.self),
                slistFreeAll: try resolve("curl_slist_free_all", as: cidp_curl_slist_free_all_fn.self),
                versionFunction: try resolve("curl_version", as: cidp_curl_version_fn.self),
                curlFree: try resolve("curl_free", as: cidp_curl_free_fn.self),
                urlNew: try resolve("curl_url", as: cidp_curl_url_fn.self),
                urlCleanup: try resolve("curl_url_cleanup", as: cidp_curl_url_cleanup_fn.self),
                urlSet: try resolve("curl_url_set", as: cidp_curl_url_set_fn.self),
                urlGet: try resolve("curl_url_get", as: cidp_curl_url_get_fn.self)
            )
        } catch {
            dlclose(handle)
            throw error
        }
        let code = curl.globalInit(Int(CURL_GLOBAL_ALL))
        guard code == CURLE_OK else {
            throw ExtractError(.libraryUnavailable("curl_global_init in \(library) failed: \(curl.message(for: code))"))
        }
        return curl
    }

    /// `dlerror()`, or a placeholder when the dynamic linker has nothing to say.
    private static func lastDynamicLinkerError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown error"
    }
}
