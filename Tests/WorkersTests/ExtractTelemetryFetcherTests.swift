import Foundation
import Testing
@testable import Workers

/// Waits short enough that a test retrying a few times takes milliseconds.
private let tinySchedule = RetrySchedule(initial: .milliseconds(1), maximum: .milliseconds(8), multiplier: 2, jitter: 0)

/// One `onRetry` call.
private struct Retry: Equatable {
    var attempt: Int
    var error: ExtractError
    var delay: Duration
}

@Suite(.timeLimit(.minutes(1))) struct ExtractTelemetryFetcherTests {
    /// The body `ExtractTestServer` sends with a scripted status.
    static let scripted = #"{"error":"scripted"}"#

    @Test func buildsThePageURLWithAnEncodedCursor() throws {
        var fetcher = TelemetryFetcher(baseURL: "http://example.test:8080//", pageSize: 500, client: try HTTPClient())
        #expect(fetcher.url(cursor: nil) == "http://example.test:8080/v1/telemetry?limit=500")
        #expect(fetcher.url(cursor: "1000") == "http://example.test:8080/v1/telemetry?cursor=1000&limit=500")
        fetcher.pageSize = 7
        #expect(fetcher.url(cursor: "a/b c&d=é~") == "http://example.test:8080/v1/telemetry?cursor=a%2Fb%20c%26d%3D%C3%A9~&limit=7")
    }

    @Test func fetchesAPage() throws {
        let server = try ExtractTestServer([.ok(samplePage)])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, client: try HTTPClient())
        let page = try fetcher.fetch(cursor: "0") { _, error, _ in Issue.record("retried: \(error)") }
        #expect(page == samplePageDecoded)
        #expect(server.requests == ["GET /v1/telemetry?cursor=0&limit=1 HTTP/1.1"])
    }

    @Test func retriesServerErrorsWithGrowingWaits() throws {
        let server = try ExtractTestServer([.status(500), .status(503), .status(500), .ok(samplePage)])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        var retries: [Retry] = []
        let page = try fetcher.fetch(cursor: nil) { retries.append(Retry(attempt: $0, error: $1, delay: $2)) }
        #expect(page == samplePageDecoded)
        let url = fetcher.url(cursor: nil)
        #expect(retries == [
            Retry(attempt: 1, error: ExtractError(.httpStatus(500, body: Self.scripted), url: url), delay: .milliseconds(1)),
            Retry(attempt: 2, error: ExtractError(.httpStatus(503, body: Self.scripted), url: url), delay: .milliseconds(2)),
            Retry(attempt: 3, error: ExtractError(.httpStatus(500, body: Self.scripted), url: url), delay: .milliseconds(4)),
        ])
        #expect(server.acceptedConnections == 1)
    }

    @Test func retriesRefusedConnectionsUntilTheServerListens() throws {
        let server = try ExtractTestServer([.ok(samplePage)], listening: false)
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        var retries: [Retry] = []
        let page = try fetcher.fetch(cursor: nil) { attempt, error, delay in
            retries.append(Retry(attempt: attempt, error: error, delay: delay))
            if attempt == 2 { try? server.startListening() }
        }
        #expect(page == samplePageDecoded)
        #expect(retries.map(\.attempt) == [1, 2])
        #expect(retries.map(\.error.code) == [.connectionRefused, .connectionRefused])
        #expect(retries.map(\.delay) == [.milliseconds(1), .milliseconds(2)])
    }

    @Test func retriesATruncatedBody() throws {
        let truncated = Array(samplePage.utf8.prefix(samplePage.utf8.count / 2))
        let server = try ExtractTestServer([.respond(status: 200, body: truncated), .ok(samplePage)])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        var errors: [ExtractError] = []
        let page = try fetcher.fetch(cursor: nil) { _, error, _ in errors.append(error) }
        #expect(page == samplePageDecoded)
        let error = try #require(errors.first)
        guard case .malformedBody(let problem, let location) = error.code else {
            Issue.record("\(error)")
            return
        }
        #expect(problem.contains("ends early"))
        #expect(location.offset == truncated.count)
        #expect(location.record == 0)
        #expect(error.url == fetcher.url(cursor: nil))
    }

    @Test func throwsAClientErrorAtOnce() throws {
        let server = try ExtractTestServer([.status(404), .ok(samplePage)])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        let error = try #require(throws: ExtractError.self) {
            try fetcher.fetch(cursor: "9") { _, error, _ in Issue.record("retried: \(error)") }
        }
        #expect(error == ExtractError(.httpStatus(404, body: Self.scripted), url: server.baseURL + "/v1/telemetry?cursor=9&limit=1"))
        #expect(!error.isRetryable)
        // What the server said comes with the status: an operator sees why it refused.
        #expect(error.description == "GET \(server.baseURL)/v1/telemetry?cursor=9&limit=1: HTTP status 404: {\"error\":\"scripted\"}")
    }

    @Test func givesUpOnceThePageHasFailedForItsDeadlineNamingTheLastError() throws {
        // Nothing listens: every attempt is refused, a failure worth retrying.
        let server = try ExtractTestServer([], listening: false)
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        fetcher.giveUpAfter = .milliseconds(300)
        var retries = 0
        var lastDelay: Duration = .zero
        let clock = ContinuousClock()
        let started = clock.now
        let error = try #require(throws: ExtractError.self) {
            try fetcher.fetch(cursor: nil) { _, _, delay in retries += 1; lastDelay = delay }
        }
        guard case .gaveUp(let after, let lastError) = error.code else {
            Issue.record("expected a give-up, got \(error)")
            return
        }
        #expect(after == .milliseconds(300))
        #expect(lastError.contains("connection refused"), "\(lastError)")
        #expect(!error.isRetryable)
        #expect(error.description.contains("the source kept failing for 300 ms (give_up_after)"), "\(error)")
        #expect(retries > 1)
        // It gave up after the deadline: it did retry for that long (a lower bound, never an upper one).
        #expect(started.duration(to: clock.now) >= .milliseconds(300))
        #expect(lastDelay <= .milliseconds(300))
    }

    @Test func stopsWaitingWhenToldTo() throws {
        let server = try ExtractTestServer([.status(500)])
        let stop = StopFlag()
        let schedule = RetrySchedule(initial: .seconds(30), maximum: .seconds(30), multiplier: 1, jitter: 0)
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: schedule, client: try HTTPClient(),
                                       shouldStop: { stop.isSet })
        var attempts: [Int] = []
        let error = try #require(throws: ExtractError.self) {
            try fetcher.fetch(cursor: nil) { attempt, _, _ in
                attempts.append(attempt)
                stop.set()  // as a SIGTERM handler would, while the 30 s wait is under way
            }
        }
        #expect(error.code == .stopped)
        #expect(attempts == [1])
        #expect(server.requests.count == 1)
    }

    @Test func waitsAtLeastWhatRetryAfterAsksThenRetries() throws {
        let server = try ExtractTestServer([
            .respondWithHeaders(status: 429, headers: ["Retry-After: 1"], body: Array("slow down".utf8)),
            .ok(samplePage),
        ])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        var retries: [Retry] = []
        let clock = ContinuousClock()
        let started = clock.now
        let page = try fetcher.fetch(cursor: nil) { retries.append(Retry(attempt: $0, error: $1, delay: $2)) }
        #expect(page == samplePageDecoded)
        // The server's wait, not the schedule's 1 ms; and it did wait (a lower bound only).
        #expect(retries.map(\.delay) == [.seconds(1)])
        #expect(retries.first?.error.retryAfter == .seconds(1))
        #expect(retries.first?.error.description == "GET \(fetcher.url(cursor: nil)): HTTP status 429 (Retry-After 1 s): slow down")
        #expect(started.duration(to: clock.now) >= .seconds(1))
    }

    @Test func givesUpAtOnceWhenRetryAfterIsPastItsDeadline() throws {
        let server = try ExtractTestServer([.respondWithHeaders(status: 503, headers: ["Retry-After: 3600"], body: [])])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: tinySchedule, client: try HTTPClient())
        fetcher.giveUpAfter = .seconds(60)
        let error = try #require(throws: ExtractError.self) {
            try fetcher.fetch(cursor: nil) { _, error, _ in Issue.record("retried: \(error)") }
        }
        guard case .retryAfterPastDeadline(let retryAfter, let left, _) = error.code else {
            Issue.record("\(error)")
            return
        }
        #expect(retryAfter == .seconds(3600) && left <= .seconds(60))
        #expect(!error.isRetryable)
        #expect(error.description.contains("the source asked to be asked again in 3600 s (Retry-After)"), "\(error)")
        #expect(server.requests.count == 1)
    }

    @Test func decodesInTheSourcesFormat() throws {
        let renamed = samplePage.replacingOccurrences(of: "\"timestamp\":\"2025-01-01T00:00:00Z\"", with: "\"ts\":1735689600")
        let server = try ExtractTestServer([.ok(renamed)])
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, client: try HTTPClient())
        fetcher.format = try SourceFormat.parse(fields: ["timestamp=ts"], timestampFormat: "epoch-seconds")
        #expect(try fetcher.fetch(cursor: nil) { _, error, _ in Issue.record("retried: \(error)") } == samplePageDecoded)
    }

    @Test func jitteredWaitsStayWithinTheSchedule() throws {
        let server = try ExtractTestServer([.status(500), .status(500), .status(500), .ok(samplePage)])
        let schedule = RetrySchedule(initial: .milliseconds(2), maximum: .milliseconds(5), multiplier: 2, jitter: 0.5)
        var fetcher = TelemetryFetcher(baseURL: server.baseURL, pageSize: 1, schedule: schedule, client: try HTTPClient(), seed: 1)
        var delays: [Duration] = []
        _ = try fetcher.fetch(cursor: nil) { _, _, delay in delays.append(delay) }
        #expect(delays.count == 3)
        #expect(delays[0] >= .milliseconds(1) && delays[0] <= .milliseconds(3))
        #expect(delays.allSatisfy { $0 <= .milliseconds(5) })
    }
}

/// A flag set from one place and read from another.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }

    func set() {
        lock.withLock { value = true }
    }
}
