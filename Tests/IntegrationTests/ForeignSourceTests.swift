import Foundation
import Supervisor
import Testing
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The nightly job against sensor APIs nobody here wrote (`ForeignSource`, Python's http.server):
/// every timestamp form, Unix time, renamed fields, numbers as strings, extra fields and gzip
/// load the same warehouse, value for value, as the simulator's own form does (issue 13, item 1).
@Suite(.timeLimit(.minutes(3)))
struct ForeignSourceTests {
    static let records = 2500

    /// A job from `source` into a fresh warehouse of `sandbox`.
    static func job(_ sandbox: Sandbox, _ source: ForeignSource) throws -> (code: Int32, stdout: String, stderr: String, db: String) {
        let db = sandbox.path + "/dwh.sqlite"
        let run = try NightlyJobTests.job(sandbox, db: db, ["--source", source.url])
        return (run.code, run.stdout, run.stderr, db)
    }

    @Test func rfc3339InEveryFormNumbersAsStringsExtraFieldsAndGzipLoadValueForValue() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let source = try ForeignSource(sandbox, records: Self.records,
                                       settings: ["timestamps": "rfc3339", "strings": true, "extras": true, "gzip": true])
        let run = try Self.job(sandbox, source)
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("this run loaded \(Self.records) rows"), "\(run.stdout)")
        try EtlTests.checkWarehouse(run.db, count: Self.records)
        #expect(source.requests.map(\.path) == ["/v1/telemetry?limit=1000", "/v1/telemetry?cursor=1000&limit=1000",
                                                "/v1/telemetry?cursor=2000&limit=1000"])
    }

    @Test func epochSecondsUnderRenamedFieldsLoadValueForValue() throws {
        let renames = ["timestamp": "ts", "pump_id": "asset", "flow_rate": "flow", "failure": "fault",
                       "records": "data", "next_cursor": "next"]
        let policy = try EtlTests.defaultPolicy().withExtractor(#"source = { timestamp_format = "epoch-seconds", fields = { "#
            + renames.sorted { $0.key < $1.key }.map { "\($0.key) = \"\($0.value)\"" }.joined(separator: ", ") + " } }")
        let sandbox = try Sandbox(policy: policy)
        let source = try ForeignSource(sandbox, records: Self.records,
                                       settings: ["timestamps": "epoch-seconds", "fields": renames, "extras": true])
        let run = try Self.job(sandbox, source)
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        try EtlTests.checkWarehouse(run.db, count: Self.records)
    }

    @Test func epochMillisecondsAsNumbersAndStringsLoadValueForValue() throws {
        let policy = try EtlTests.defaultPolicy().withExtractor(#"source = { timestamp_format = "epoch-millis" }"#)
        let sandbox = try Sandbox(policy: policy)
        let source = try ForeignSource(sandbox, records: Self.records, settings: ["timestamps": "epoch-millis", "strings": true])
        let run = try Self.job(sandbox, source)
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        try EtlTests.checkWarehouse(run.db, count: Self.records)
    }

    @Test func aSourceReadWithoutItsFormatIsRefusedNamingTheByteRecordAndField() throws {
        // Unix time where RFC 3339 is expected: every page is malformed; the limit halts the chain.
        let policy = try EtlTests.defaultPolicy().withExtractor("malformed_limit = 2")
        let sandbox = try Sandbox(policy: policy)
        let source = try ForeignSource(sandbox, records: Self.records, settings: ["timestamps": "epoch-seconds"])
        let run = try Self.job(sandbox, source)
        #expect(run.code == 1, "\(run.stderr.suffix(2000))")
        let line = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.hasPrefix("cidp: etl halted by extractor: gate 'record' refused the first page: 2 malformed bodies in a row: "
            + "GET \(source.url)/v1/telemetry?limit=1000: malformed body: expected '\"', found '9' at byte 25 (record 0, field 'timestamp')"),
                "\(line)")
    }

    @Test func aPrivateCAIsTrustedThroughTheCABundleAndVerificationStaysOn() throws {
        let sandbox = try Sandbox(policy: "")
        let (ca, certificate, key) = try makePrivateCA(in: sandbox.path)
        let source = try ForeignSource(sandbox, records: Self.records, settings: ["tls": ["cert": certificate, "key": key]])
        // Without the CA the peer does not verify: a final error, not one retried.
        let error = try #require(throws: ExtractError.self) { try HTTPClient().get(source.url + "/v1/telemetry?limit=1") }
        guard case .otherTransport(let curlCode, _) = error.code else {
            Issue.record("\(error)")
            return
        }
        #expect(curlCode == 60, "\(error)")  // CURLE_PEER_FAILED_VERIFICATION
        #expect(!error.isRetryable)
        try EtlTests.defaultPolicy().withExtractor("source = { ca_bundle = \"\(ca)\" }").write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)
        let run = try Self.job(sandbox, source)
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        try EtlTests.checkWarehouse(run.db, count: Self.records)
    }

    @Test func retryAfterIsWaitedOutThenEverythingLoads() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        // The first two requests are told to come back in 2 s (429 Too Many Requests).
        let source = try ForeignSource(sandbox, records: Self.records, settings: ["throttle": ["count": 2, "seconds": 2, "status": 429]])
        let clock = ContinuousClock()
        let started = clock.now
        let run = try Self.job(sandbox, source)
        #expect(run.code == 0, "\(run.stderr.suffix(2000))")
        try EtlTests.checkWarehouse(run.db, count: Self.records)
        let requests = source.requests
        #expect(requests.count == 5)
        // Not asked again before the server's time (both times on the machine's monotonic clock);
        // the only bound on speed is the job's own upper bound below.
        for index in 1..<min(3, requests.count) {
            #expect(requests[index].time - requests[index - 1].time >= 2.0 - 1e-3, "\(requests.map(\.time))")
        }
        #expect(started.duration(to: clock.now) < .seconds(100))
    }
}

/// The Swift `Sequence` of a status tree's workers named `name`, for polling.
extension StatusTree {
    func pid(of name: String) -> Int32? {
        workers.first { $0.name == name }?.pid
    }
}
