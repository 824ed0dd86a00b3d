import Foundation
import Testing
@testable import Workers

/// The extractor's source options, as `cidp up` checks them before anything starts.
@Suite struct ExtractorOptionsTests {
    static let base = ["--db", "x.sqlite", "--source", "https://api.example.com"]
    static let token = "t0ken-that-must-never-print"

    /// A file holding `text`, removed when the test ends (by the temporary directory's owner).
    static func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "cidp-token-\(UUID().uuidString)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theDefaultsAreSafeOnes() throws {
        let options = try ExtractorWorker(arguments: Self.base).sourceOptions
        #expect(options.format == .standard)
        #expect(options.client.maximumBodySize == 64 << 20)
        #expect(options.client.timeout == .seconds(30))
        #expect(options.client.redirects == .sameOrigin)
        #expect(options.client.credential == nil && options.client.caBundle == nil)
    }

    @Test func readsEverySettingAndTheSecretFromItsFile() throws {
        let path = try Self.file(Self.token + "\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = try ExtractorWorker(arguments: Self.base + [
            "--field", "timestamp=ts", "--field", "pump_id=asset", "--timestamp-format", "epoch-millis",
            "--auth", "bearer", "--auth-token-file", path, "--ca-bundle", path, "--max-body-mb", "8",
            "--request-deadline-ms", "2000", "--allow-redirects", "none",
        ]).sourceOptions
        #expect(options.format == (try SourceFormat.parse(fields: ["timestamp=ts", "pump_id=asset"], timestampFormat: "epoch-millis")))
        #expect(options.client.credential == HTTPCredential(scheme: .bearer, secret: Self.token))
        #expect(options.client.caBundle == path)
        #expect(options.client.maximumBodySize == 8 << 20)
        #expect(options.client.timeout == .seconds(2) && options.client.connectTimeout == .seconds(2))
        #expect(options.client.redirects == HTTPClient.RedirectPolicy.none)
    }

    @Test func readsTheSecretFromTheEnvironmentThePolicyGives() throws {
        let arguments = Self.base + ["--auth", "basic", "--auth-token-env", "CIDP_TEST_SOURCE_CREDENTIAL"]
        let options = try ExtractorWorker(arguments: arguments, environment: ["CIDP_TEST_SOURCE_CREDENTIAL": "user:\(Self.token)"]).sourceOptions
        #expect(options.client.credential == HTTPCredential(scheme: .basic, secret: "user:\(Self.token)"))
        let error = try #require(throws: WorkerUsageError.self) { try ExtractorWorker(arguments: arguments) }
        #expect(error.description == "worker extractor: --auth-token-env CIDP_TEST_SOURCE_CREDENTIAL: the variable is not set in the extractor's environment")
    }

    @Test(arguments: [
        (["--auth", "bearer"], "--auth bearer needs --auth-token-file PATH or --auth-token-env NAME (the secret is never an argument)"),
        (["--auth", "digest", "--auth-token-env", "X"], "--auth expects one of bearer, basic, got 'digest'"),
        (["--auth-token-env", "X"], "--auth-token-env needs --auth bearer or --auth basic"),
        (["--auth", "bearer", "--auth-token-env", "A", "--auth-token-file", "/f"], "give one of them"),
        (["--auth", "bearer", "--auth-token-env", "A=B"], "expects an environment variable name"),
        (["--auth", "bearer", "--auth-token-file", "/nonexistent/token"], "--auth-token-file '/nonexistent/token': cannot read: No such file or directory"),
        (["--ca-bundle", "/nonexistent/ca.pem"], "--ca-bundle '/nonexistent/ca.pem': cannot read: No such file or directory"),
        (["--max-body-mb", "0"], "--max-body-mb expects an integer in 1...1024, got '0'"),
        (["--request-deadline-ms", "10"], "--request-deadline-ms expects an integer in 100...3600000, got '10'"),
        (["--allow-redirects", "all"], "--allow-redirects expects one of none, same-origin, any, got 'all'"),
        (["--timestamp-format", "unix"], "--timestamp-format expects one of rfc3339, epoch-seconds, epoch-millis, got 'unix'"),
        (["--field", "ts=timestamp"], "unknown field 'ts'"),
    ])
    func namesABadOptionInOneLine(_ extra: [String], _ message: String) {
        let error = #expect(throws: WorkerUsageError.self) { try ExtractorWorker(arguments: Self.base + extra) }
        #expect(error?.description == "worker extractor: " + message || error?.description.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.contains("\n") == false)
    }

    @Test(arguments: ["", "\n", "two\nlines", "no-colon"])
    func refusesAnUnusableSecretWithoutQuotingIt(_ content: String) throws {
        let path = try Self.file(content)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let scheme = content == "no-colon" ? "basic" : "bearer"
        let error = try #require(throws: WorkerUsageError.self) {
            try ExtractorWorker(arguments: Self.base + ["--auth", scheme, "--auth-token-file", path])
        }
        #expect(error.description.hasPrefix("worker extractor: --auth-token-file '\(path)': "), "\(error)")
        if !content.isEmpty, content != "\n" {
            #expect(!error.description.contains(content.split(separator: "\n")[0]), "\(error)")
        }
    }

    @Test func refusesACredentialInTheSourceURL() {
        let error = #expect(throws: WorkerUsageError.self) {
            try ExtractorWorker(arguments: ["--db", "x", "--source", "https://user:\(Self.token)@api.example.com/v1"])
        }
        #expect(error?.description.contains("--source must not hold a user or password") == true)
        #expect(error?.description.contains(Self.token) == false)
        // An @ after the host is part of the path or query, not a credential.
        #expect(throws: Never.self) { try ExtractorWorker(arguments: ["--db", "x", "--source", "https://api.example.com/a@b?c=@"]) }
    }
}
