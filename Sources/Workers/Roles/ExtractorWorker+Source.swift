#if canImport(Glibc)
import Glibc
#endif
import Posix

/// The extractor's settings of its source: how it speaks HTTP to the API and how it reads the
/// pages. Each is an option in the policy's `args` (`policies/README.md`, "The extractor"),
/// checked when `cidp up` starts, before anything runs; the credential is read here, from the
/// file or variable the options name, never from the command line.
struct ExtractorSourceOptions {
    /// How the source names its fields and writes its timestamps.
    var format: SourceFormat
    /// The HTTP client's settings: deadline, body limit, credential, CA bundle, redirects.
    var client: HTTPClient.Configuration

    /// Default `--max-body-mb`.
    static let defaultMaximumBodyMiB = 64
    /// Default `--request-deadline-ms`.
    static let defaultRequestDeadlineMs = 30_000
    /// The longest wait for a connection, whatever the deadline.
    static let connectTimeout: Duration = .seconds(5)

    /// Reads (and removes) `--field`, `--timestamp-format`, `--auth`, `--auth-token-file`,
    /// `--auth-token-env`, `--ca-bundle`, `--max-body-mb`, `--request-deadline-ms` and
    /// `--allow-redirects` from `options`.
    /// - Parameter environment: variables the extractor gets on top of this process's own, where
    ///   `--auth-token-env` may name one.
    /// - Throws: a one-line `WorkerUsageError` naming the option.
    init(parsing options: inout WorkerOptions, environment: [String: String]) throws(WorkerUsageError) {
        format = try SourceFormat.parse(fields: try options.values("--field"), timestampFormat: try options.value("--timestamp-format"))
        let maximumBodyMiB = try options.integer("--max-body-mb", default: Self.defaultMaximumBodyMiB, range: 1...1024)
        let deadline = Duration.milliseconds(try options.integer("--request-deadline-ms", default: Self.defaultRequestDeadlineMs,
                                                                 range: 100...3_600_000))
        client = HTTPClient.Configuration(connectTimeout: min(Self.connectTimeout, deadline), timeout: deadline,
                                          maximumBodySize: maximumBodyMiB << 20)
        if let redirects = try options.value("--allow-redirects") {
            guard let policy = HTTPClient.RedirectPolicy(rawValue: redirects) else {
                throw Self.usage("--allow-redirects expects one of \(HTTPClient.RedirectPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(redirects)'")
            }
            client.redirects = policy
        }
        if let caBundle = try options.value("--ca-bundle") {
            // Checked here so a wrong path is one line at `cidp up`, not a TLS error per request.
            do throws(Errno) { Posix.close(try Posix.open(caBundle, O_RDONLY | O_CLOEXEC)) } catch {
                throw Self.usage("--ca-bundle '\(caBundle)': cannot read: \(error)")
            }
            client.caBundle = caBundle
        }
        client.credential = try Self.credential(&options, environment: environment)
    }

    /// The credential `--auth SCHEME` with `--auth-token-file PATH` or `--auth-token-env NAME`
    /// names, read now; nil without `--auth`.
    private static func credential(_ options: inout WorkerOptions, environment: [String: String]) throws(WorkerUsageError) -> HTTPCredential? {
        let scheme = try options.value("--auth")
        let file = try options.value("--auth-token-file")
        let variable = try options.value("--auth-token-env")
        guard let scheme else {
            if file != nil || variable != nil {
                throw usage("\(file != nil ? "--auth-token-file" : "--auth-token-env") needs --auth bearer or --auth basic")
            }
            return nil
        }
        guard let parsed = HTTPCredential.Scheme(rawValue: scheme) else {
            throw usage("--auth expects one of \(HTTPCredential.Scheme.allCases.map(\.rawValue).joined(separator: ", ")), got '\(scheme)'")
        }
        switch (file, variable) {
        case (let path?, nil):
            return try HTTPCredential.load(scheme: parsed, from: .file(path), environment: environment)
        case (nil, let name?):
            guard !name.isEmpty, !name.contains("=") else {
                throw usage("--auth-token-env expects an environment variable name, got '\(name)'")
            }
            return try HTTPCredential.load(scheme: parsed, from: .environment(name), environment: environment)
        case (nil, nil):
            throw usage("--auth \(scheme) needs --auth-token-file PATH or --auth-token-env NAME (the secret is never an argument)")
        case (_?, _?):
            throw usage("--auth-token-file and --auth-token-env: give one of them")
        }
    }

    private static func usage(_ problem: String) -> WorkerUsageError {
        WorkerUsageError(description: "worker extractor: \(problem)")
    }
}
