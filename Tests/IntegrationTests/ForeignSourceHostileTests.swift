import Foundation
import Supervisor
import Testing
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A process's peak resident set in KiB (`VmHWM` of `/proc/PID/status`); nil once it is gone.
func peakResidentKiB(of pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
    return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
}

/// Hostile and broken sources (issue 13, item 2), each a real loopback server that serves a good
/// first page and then misbehaves: the job ends with a clear error or loads the good pages, the
/// extractor's memory stays bounded (its peak RSS read from /proc), and nothing crash-loops.
@Suite(.timeLimit(.minutes(3)))
struct ForeignSourceHostileTests {
    /// What a job against a hostile source did.
    struct Outcome {
        var code: Int32?
        var log: String
        var rows: Int64
        /// Every pid the extractor had: one means it was never restarted.
        var extractorPIDs: Set<Int32>
        /// The extractor's peak RSS, MiB.
        var peakMiB: Int
        var lastLine: String { log.split(separator: "\n").last { $0.hasPrefix("cidp: ") }.map(String.init) ?? "" }
    }

    /// Runs a job from `source` with the extractor given `args`, sampling the extractor's pid and
    /// peak RSS until the job ends.
    static func run(_ sandbox: Sandbox, _ source: ForeignSource, keys: String = "") throws -> Outcome {
        try EtlTests.defaultPolicy().withExtractor(keys).write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(["--db", db, "--source", source.url, "--log-level", "warning"], waitUntilReady: false)
        var pids: Set<Int32> = []
        var peakKiB = 0
        let ended = poll(timeout: .seconds(150)) {
            if let pid = supervisor.statusIfRunning()?.pid(of: "extractor") { pids.insert(pid) }
            for pid in pids { peakKiB = max(peakKiB, peakResidentKiB(of: pid) ?? 0) }
            usleep(20_000)
            return !supervisor.isRunning
        }
        #expect(ended, "the job did not end: \(supervisor.log.suffix(2000))")
        let code = supervisor.waitForExit()
        let rows = (try? Warehouse(path: db, busyTimeout: .seconds(5)).rowCount()) ?? -1
        return Outcome(code: code, log: supervisor.log, rows: rows, extractorPIDs: pids, peakMiB: (peakKiB + 1023) / 1024)
    }

    @Test func aBodyThatNeverEndsIsCutAtTheLimitAndThePagesBeforeItAreLoaded() throws {
        let sandbox = try Sandbox(policy: "")
        let source = try ForeignSource(sandbox, records: 2500, settings: ["hostile": "endless", "at": 1000])
        // The default limit, 64 MiB: the extractor holds at most that of a body, besides its own
        // 35 MiB or so (the other hostile sources' peak).
        let outcome = try Self.run(sandbox, source)
        #expect(outcome.code == 1, "\(outcome.log.suffix(2000))")
        #expect(outcome.lastLine == "cidp: etl halted by extractor: sensor API: GET \(source.url)/v1/telemetry?cursor=1000&limit=1000: "
            + "body larger than the limit of 67108864 bytes (--max-body-mb); the pages before it are loaded", "\(outcome.lastLine)")
        #expect(outcome.rows == 1000)
        #expect(outcome.extractorPIDs.count == 1, "\(outcome.extractorPIDs)")
        #expect(outcome.peakMiB > 0 && outcome.peakMiB <= 64 + 40, "peak RSS \(outcome.peakMiB) MiB")
    }

    @Test func aServerThatAcceptsAndNeverAnswersEndsTheJobAtTheGiveUpDeadline() throws {
        let sandbox = try Sandbox(policy: "")
        let source = try ForeignSource(sandbox, records: 2500, settings: ["hostile": "hang", "at": 1000])
        // A request deadline longer than the 3 s watchdog: the extractor heartbeats through it.
        let outcome = try Self.run(sandbox, source, keys: "give_up_after_s = 5\nsource = { request_deadline_ms = 4000 }")
        #expect(outcome.code == 1, "\(outcome.log.suffix(2000))")
        #expect(outcome.lastLine.hasPrefix("cidp: etl halted by extractor: sensor API: the source kept failing for 5 s (give_up_after): "
            + "GET \(source.url)/v1/telemetry?cursor=1000&limit=1000: timed out"), "\(outcome.lastLine)")
        #expect(outcome.rows == 1000)
        #expect(outcome.extractorPIDs.count == 1, "the watchdog or a crash restarted the extractor: \(outcome.extractorPIDs)")
        // The first page, then the second until its retries pass the deadline (the attempt under
        // way at the deadline runs to its own request deadline).
        #expect(source.requests.count >= 3, "\(source.requests.map(\.path))")
    }

    @Test func a64MiBStringInAFieldNobodyNeedsIsSkippedWithinTheLimit() throws {
        let sandbox = try Sandbox(policy: "")
        let source = try ForeignSource(sandbox, records: 2500, settings: ["hostile": "big-extra", "at": 1000])
        let outcome = try Self.run(sandbox, source, keys: "source = { max_body_mb = 80 }")
        #expect(outcome.code == 0, "\(outcome.log.suffix(2000))")
        #expect(outcome.rows == 2500)
        #expect(outcome.extractorPIDs.count == 1)
        // The body (64 MiB and a page) once: not a copy of the string, nor of a buffer outgrown.
        #expect(outcome.peakMiB > 64 && outcome.peakMiB <= 64 + 40, "peak RSS \(outcome.peakMiB) MiB")
    }

    @Test func nesting100000DeepIsAMalformedPageNamedAndTheChainHalts() throws {
        let sandbox = try Sandbox(policy: "")
        let source = try ForeignSource(sandbox, records: 2500, settings: ["hostile": "deep", "at": 1500])
        let outcome = try Self.run(sandbox, source, keys: "malformed_limit = 3")
        #expect(outcome.code == 1, "\(outcome.log.suffix(2000))")
        #expect(outcome.lastLine.hasPrefix("cidp: etl halted by extractor: gate 'record' refused the page at cursor '1000': "
            + "3 malformed bodies in a row: GET \(source.url)/v1/telemetry?cursor=1000&limit=1000: malformed body: "
            + "nesting deeper than 512 levels at byte "), "\(outcome.lastLine)")
        #expect(outcome.lastLine.hasSuffix("(record 500, field 'meta_deep')"), "\(outcome.lastLine)")
        #expect(outcome.rows == 1000)
        #expect(outcome.extractorPIDs.count == 1)
        #expect(outcome.peakMiB <= 64, "peak RSS \(outcome.peakMiB) MiB")
    }

    @Test func aNextCursorThatDoesNotAdvanceIsAClearErrorNotALoop() throws {
        let sandbox = try Sandbox(policy: "")
        let source = try ForeignSource(sandbox, records: 2500, settings: ["hostile": "cursor-stuck", "at": 1000])
        let outcome = try Self.run(sandbox, source)
        #expect(outcome.code == 1, "\(outcome.log.suffix(2000))")
        #expect(outcome.lastLine == "cidp: etl halted by extractor: sensor API: the page at cursor '1000' gives itself as the next page "
            + "(next_cursor '1000'): the source's cursor does not advance; the pages before it are loaded", "\(outcome.lastLine)")
        #expect(outcome.rows == 1000)
        #expect(source.requests.count == 2)
    }

    @Test func aNextCursorThatGoesBackIsAClearErrorNotALoop() throws {
        let sandbox = try Sandbox(policy: "")
        let source = try ForeignSource(sandbox, records: 3500, settings: ["hostile": "cursor-back", "at": 2000])
        let outcome = try Self.run(sandbox, source)
        #expect(outcome.code == 1, "\(outcome.log.suffix(2000))")
        #expect(outcome.lastLine == "cidp: etl halted by extractor: sensor API: the page at cursor '2000' points back to cursor '1000', "
            + "read earlier in this run: the source's cursor goes backwards; the pages before it are loaded", "\(outcome.lastLine)")
        #expect(outcome.rows == 2000)
        #expect(source.requests.count == 3)
    }
}
