import Foundation
import Glibc
import Testing
import Wire
@testable import Workers

/// `bytes` compressed by the system's gzip (an implementation we did not write).
private func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-c"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(Data(bytes))
    try input.fileHandleForWriting.close()
    let compressed = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Array(compressed)
}

/// The `Authorization` header line of a request head, if any.
private func authorization(_ head: String) -> String? {
    head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("authorization:") }
}

/// HTTP as real sensor APIs speak it, through libcurl to `ExtractTestServer` on loopback:
/// credentials, redirects, compression, `Retry-After`, limits and deadlines.
@Suite(.timeLimit(.minutes(1))) struct ExtractHTTPClientSourceTests {
    static let token = "s3cr3t-t0ken-4b8e1f"

    @Test func sendsABearerTokenAndBasicCredentials() throws {
        let server = try ExtractTestServer([.ok(samplePage)])
        let bearer = try HTTPClient(configuration: .init(credential: HTTPCredential(scheme: .bearer, secret: Self.token)))
        _ = try bearer.get(server.baseURL + "/a")
        let basic = try HTTPClient(configuration: .init(credential: HTTPCredential(scheme: .basic, secret: "Aladdin:open sesame")))
        _ = try basic.get(server.baseURL + "/b")
        let none = try HTTPClient()
        _ = try none.get(server.baseURL + "/c")
        #expect(server.heads.map(authorization) == [
            "Authorization: Bearer \(Self.token)", "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", nil,
        ])
    }

    @Test func neverPutsTheSecretInAnErrorEvenWhenTheServerEchoesIt() throws {
        // A server that quotes the request back, credential and all, in its error body and its redirect.
        let echo = #"{"error":"bad token","got":"Bearer \#(Self.token)"}"#
        let server = try ExtractTestServer([
            .respond(status: 401, body: Array(echo.utf8)),
            .respondWithHeaders(status: 302, headers: ["Location: http://elsewhere.invalid/?t=\(Self.token)"], body: []),
        ])
        let client = try HTTPClient(configuration: .init(credential: HTTPCredential(scheme: .bearer, secret: Self.token)))
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, client: client)
        let refused = try #require(throws: ExtractError.self) { try fetcher.fetch(cursor: nil) { _, _, _ in } }
        #expect(refused.description.contains("Bearer <redacted>"), "\(refused)")
        let redirected = try #require(throws: ExtractError.self) { try client.get(server.baseURL + "/x") }
        #expect(redirected.description.contains("?t=<redacted>"), "\(redirected)")
        for error in [refused, redirected] { #expect(!error.description.contains(Self.token)) }
        // Basic: the base64 form and the password alone are hidden too.
        let basic = HTTPCredential(scheme: .basic, secret: "user:pa55word")
        #expect(basic.redact("Basic dXNlcjpwYTU1d29yZA== pa55word user:pa55word") == "Basic <redacted> <redacted> <redacted>")
        #expect("\(basic)" == "basic credential (hidden)")
    }

    @Test func followsRedirectsToItsOwnOriginOnlyWithTheCredential() throws {
        let other = try ExtractTestServer([.ok(samplePage)])
        let server = try ExtractTestServer([
            .respondWithHeaders(status: 301, headers: ["Location: /moved"], body: []),
            .respondWithHeaders(status: 307, headers: ["Location: \(server(other))/v1/telemetry"], body: []),
            .ok(samplePage),
        ])
        let credential = HTTPCredential(scheme: .bearer, secret: Self.token)
        let sameOrigin = try HTTPClient(configuration: .init(credential: credential))
        let refused = try #require(throws: ExtractError.self) { try sameOrigin.get(server.baseURL + "/start") }
        #expect(refused.code == .redirectRefused(to: other.baseURL + "/v1/telemetry",
                                                 reason: "another origin than http://127.0.0.1:\(server.port)'s (--allow-redirects same-origin)"))
        #expect(!refused.isRetryable)
        #expect(server.requests == ["GET /start HTTP/1.1", "GET /moved HTTP/1.1"])
        #expect(server.heads.map(authorization) == ["Authorization: Bearer \(Self.token)", "Authorization: Bearer \(Self.token)"])
        #expect(other.requests.isEmpty)

        // `any` follows it, without the credential: it belongs to the first origin.
        let anywhere = try HTTPClient(configuration: .init(credential: credential, redirects: .any))
        let restarted = try ExtractTestServer([
            .respondWithHeaders(status: 302, headers: ["Location: \(other.baseURL)/v1/telemetry"], body: []),
        ])
        let response = try anywhere.get(restarted.baseURL + "/start")
        #expect(response.status == 200 && response.body == Array(samplePage.utf8))
        #expect(other.heads.map(authorization) == [nil])

        // `none` follows nothing.
        let nowhere = try HTTPClient(configuration: .init(redirects: .none))
        let error = try #require(throws: ExtractError.self) { try nowhere.get(restarted.baseURL + "/start") }
        #expect(error.description.contains("redirects are not followed (--allow-redirects none)"), "\(error)")
    }

    /// `server.baseURL`, for a redirect target written before the server exists.
    private func server(_ server: ExtractTestServer) -> String { server.baseURL }

    @Test func stopsFollowingALoopOfRedirects() throws {
        let server = try ExtractTestServer([.respondWithHeaders(status: 302, headers: ["Location: /again"], body: [])])
        let error = try #require(throws: ExtractError.self) { try HTTPClient().get(server.baseURL + "/again") }
        #expect(error.description.contains("more than 10 redirects"), "\(error)")
        #expect(server.requests.count == 11)
    }

    @Test func decodesAGzipBodyAndLimitsTheDecodedSize() throws {
        let page = Array(samplePage.utf8)
        let compressed = try gzipped(page)
        let server = try ExtractTestServer([.respondWithHeaders(status: 200, headers: ["Content-Encoding: gzip"], body: compressed)])
        let response = try HTTPClient().get(server.baseURL + "/z")
        #expect(response.body == page)
        #expect(server.heads.first?.lowercased().contains("accept-encoding: ") == true)
        // A small compressed body that decodes past the limit (a zip bomb) is refused, decoded size counted.
        let bomb = try gzipped([UInt8](repeating: UInt8(ascii: " "), count: 4 << 20))
        #expect(bomb.count < 64 << 10)
        let bombing = try ExtractTestServer([.respondWithHeaders(status: 200, headers: ["Content-Encoding: gzip"], body: bomb)])
        let error = try #require(throws: ExtractError.self) {
            try HTTPClient(configuration: .init(maximumBodySize: 1 << 20)).get(bombing.baseURL + "/bomb")
        }
        #expect(error.code == .tooLarge(limit: 1 << 20))
    }

    @Test func readsRetryAfterInSecondsAndAsADate() throws {
        let later = Date().addingTimeInterval(120)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let server = try ExtractTestServer([
            .respondWithHeaders(status: 429, headers: ["Retry-After: 7"], body: []),
            .respondWithHeaders(status: 503, headers: ["Retry-After: \(formatter.string(from: later))"], body: []),
            .status(503),
        ])
        let client = try HTTPClient()
        #expect(try client.get(server.baseURL + "/a").retryAfter == .seconds(7))
        let dated = try #require(try client.get(server.baseURL + "/b").retryAfter)
        #expect(dated > .seconds(100) && dated <= .seconds(121), "\(dated)")
        #expect(try client.get(server.baseURL + "/c").retryAfter == nil)
    }

    @Test func endsABodyThatNeverEndsAtTheLimitOrTheDeadline() throws {
        // Fast: the limit comes first. Slow (a byte every 20 ms): the deadline does.
        let fast = try ExtractTestServer([.stream(chunk: [UInt8](repeating: UInt8(ascii: " "), count: 16 << 10), pause: .zero)])
        let limited = try #require(throws: ExtractError.self) {
            try HTTPClient(configuration: .init(maximumBodySize: 2 << 20)).get(fast.baseURL + "/forever")
        }
        #expect(limited.code == .tooLarge(limit: 2 << 20))
        let slow = try ExtractTestServer([.stream(chunk: [UInt8(ascii: " ")], pause: .milliseconds(20))])
        let clock = ContinuousClock()
        let started = clock.now
        let late = try #require(throws: ExtractError.self) {
            try HTTPClient(configuration: .init(timeout: .milliseconds(500))).get(slow.baseURL + "/forever")
        }
        #expect(late.code == .timeout)
        #expect(started.duration(to: clock.now) < .seconds(10))
        fast.stop()
        slow.stop()
    }

    @Test func callsBackDuringARequestThatHangsAndStopsWhenTold() throws {
        let server = try ExtractTestServer([.hang])
        let client = try HTTPClient(configuration: .init(timeout: .seconds(20)))
        var calls = 0
        let clock = ContinuousClock()
        let started = clock.now
        // Keeps going for a while (a worker heartbeats here), then asks to stop, as SIGTERM would.
        client.onProgress = {
            calls += 1
            return started.duration(to: clock.now) < .milliseconds(2500)
        }
        let error = try #require(throws: ExtractError.self) { try client.get(server.baseURL + "/hang") }
        #expect(error.code == .stopped)
        // At least about once a second while nothing arrives: a 3 s watchdog is fed.
        #expect(calls >= 3, "\(calls) calls")
        #expect(started.duration(to: clock.now) < .seconds(15))
        server.stop()
    }
}
