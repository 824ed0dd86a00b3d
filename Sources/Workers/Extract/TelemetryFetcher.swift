import Posix
import PortableRandom
#if canImport(Glibc)
import Glibc
#endif
import Wire

/// Gets pages of telemetry from the sensor API, retrying through outages.
///
/// A page is `GET BASE/v1/telemetry?cursor=C&limit=L` (no `cursor` for the first page). Any
/// retryable failure (see `ExtractError.isRetryable`) is retried for as long as it takes, with
/// waits from `schedule`; a final one is thrown at once. Not thread-safe, like its client.
public struct TelemetryFetcher {
    /// The API's root, such as `http://127.0.0.1:8080` (a trailing `/` is dropped).
    public let baseURL: String
    /// Records asked for per page (`limit`).
    public var pageSize: Int
    /// The waits between attempts.
    public var schedule: RetrySchedule
    private let client: HTTPClient
    private let shouldStop: () -> Bool
    private var random: SplitMix64

    /// The longest single sleep while waiting to retry: how quickly a stop request is seen.
    public static let waitSlice: Duration = .milliseconds(50)

    /// How many malformed bodies in a row for one page `fetch` retries before it throws the
    /// last one; nil retries them like any other transient failure.
    public var malformedLimit: Int?

    /// How long `fetch` keeps retrying a page that fails (from its first failure) before it
    /// throws `.gaveUp` with the last error; nil retries for as long as it takes.
    public var giveUpAfter: Duration?

    /// How the source writes its pages (field names, timestamps).
    public var format: SourceFormat = .standard

    /// The longest wait a `Retry-After` imposes: a longer one is taken as this.
    public static let maximumRetryAfter: Duration = .seconds(3600)

    /// A fetcher using `client` for every request.
    /// - Parameters:
    ///   - shouldStop: asked before every attempt and at least every `waitSlice` while waiting
    ///     to retry; once it returns true the fetcher gives up with `.stopped`. A worker passes a
    ///     check of its SIGTERM flag, and may heartbeat from it too.
    ///   - seed: seeds the jitter, for reproducible waits; random when nil.
    public init(baseURL: String, pageSize: Int = 1000, schedule: RetrySchedule = RetrySchedule(),
                client: HTTPClient, shouldStop: @escaping () -> Bool = { false }, seed: UInt64? = nil) {
        var base = Substring(baseURL)
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = String(base)
        self.pageSize = pageSize
        self.schedule = schedule
        self.client = client
        self.shouldStop = shouldStop
        var system = SystemRandomNumberGenerator()
        random = SplitMix64(state: seed ?? system.next())
    }

    /// The URL of the page at `cursor` (nil: the first page); the cursor is percent-encoded.
    public func url(cursor: String?) -> String {
        var url = baseURL + "/v1/telemetry?"
        if let cursor { url += "cursor=" + Self.percentEncoded(cursor) + "&" }
        return url + "limit=\(pageSize)"
    }

    /// The page at `cursor`, once the API gives a good one.
    ///
    /// After each retryable failure, calls `onRetry` with the number of the attempt that failed
    /// (1 for the first), the error and the wait before the next attempt, then waits. The
    /// caller reports `degraded` from it, and heartbeats.
    /// A failure with a `Retry-After` (429, 503) waits at least that long (at most
    /// `maximumRetryAfter`) before the next attempt.
    /// - Throws: `ExtractError` naming the URL: the first error that is not retryable,
    ///   `.gaveUp` once the page has failed for `giveUpAfter`, `.retryAfterPastDeadline` when the
    ///   server asks to wait past that deadline, or `.stopped` once `shouldStop` returns true.
    public mutating func fetch(cursor: String?,
                               onRetry: (_ attempt: Int, _ error: ExtractError, _ delay: Duration) -> Void)
        throws(ExtractError) -> TelemetryPage {
        let url = url(cursor: cursor)
        var attempt = 1
        var malformedInARow = 0
        let clock = ContinuousClock()
        var firstFailure: ContinuousClock.Instant?
        while true {
            guard !shouldStop() else { throw ExtractError(.stopped, url: url) }
            do {
                return try fetchOnce(url)
            } catch {
                guard error.isRetryable else { throw error }
                if case .malformedBody = error.code {
                    malformedInARow += 1
                    // The same page broken again and again is the source's data, not the network.
                    if let limit = malformedLimit, malformedInARow >= limit { throw error }
                } else {
                    malformedInARow = 0
                }
                let unitRandom = random.nextUnit()
                var delay = schedule.delay(forAttempt: attempt + 1, unitRandom: unitRandom)
                // A server that says when to come back (429, 503) is not asked sooner.
                let retryAfter = error.retryAfter.map { min($0, Self.maximumRetryAfter) }
                if let retryAfter { delay = max(delay, retryAfter) }
                if let giveUpAfter {
                    let since = firstFailure ?? clock.now
                    firstFailure = since
                    let failingFor = since.duration(to: clock.now)
                    guard failingFor < giveUpAfter else {
                        throw ExtractError(.gaveUp(after: giveUpAfter, lastError: error.description), url: url)
                    }
                    let left = giveUpAfter - failingFor
                    // Asking before the server's time would be refused again: give up now.
                    if let retryAfter, retryAfter > left {
                        throw ExtractError(.retryAfterPastDeadline(retryAfter: retryAfter, left: left, lastError: error.description), url: url)
                    }
                    // The last attempt comes at the deadline, not a whole backoff after it.
                    delay = min(delay, left)
                }
                onRetry(attempt, error, delay)
                try wait(delay, url: url)
                attempt += 1
            }
        }
    }

    /// One attempt: GET, check the status, decode. Errors hold no credential (`HTTPClient.redact`).
    private func fetchOnce(_ url: String) throws(ExtractError) -> TelemetryPage {
        let response = try client.get(url)
        guard response.status == 200 else {
            throw client.redact(ExtractError(.httpStatus(response.status, body: ExtractError.excerpt(response.body)), url: url,
                                             retryAfter: response.retryAfter))
        }
        do {
            return try TelemetryPage.decode(response.body, format: format)
        } catch {
            throw client.redact(error.requesting(url))
        }
    }

    /// Sleeps `delay` in slices of at most `waitSlice`, asking `shouldStop` before each.
    /// C: `nanosleep`; a signal cuts a slice short, so SIGTERM is seen at once.
    private func wait(_ delay: Duration, url: String) throws(ExtractError) {
        let clock = ContinuousClock()
        let deadline = clock.now + delay
        while true {
            guard !shouldStop() else { throw ExtractError(.stopped, url: url) }
            let remaining = deadline - clock.now
            guard remaining > .zero else { return }
            let slice = min(remaining, Self.waitSlice)
            Posix.nap(for: slice)
        }
    }

    /// `text` with every byte but the unreserved ones (RFC 3986: `A-Z a-z 0-9 - . _ ~`)
    /// written `%XX`.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.append(byte)
            default:
                encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
