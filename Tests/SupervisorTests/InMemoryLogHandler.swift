import Foundation
import Logging

/// A swift-log handler that records entries for assertions (swift-log `BestPractices/004-TestingLogging.md`).
///
/// Copies share one `Recorder`; metadata is merged as swift-log prescribes (handler, provider, call).
struct InMemoryLogHandler: LogHandler {
    struct Entry: Equatable, Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [Entry] = []

        var entries: [Entry] {
            lock.lock()
            defer { lock.unlock() }
            return storage
        }

        fileprivate func append(_ entry: Entry) {
            lock.lock()
            defer { lock.unlock() }
            storage.append(entry)
        }
    }

    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    let recorder: Recorder

    init(recorder: Recorder) {
        self.recorder = recorder
    }

    /// A logger at `level` writing into a fresh recorder.
    static func makeLogger(level: Logger.Level = .trace) -> (Logger, Recorder) {
        let recorder = Recorder()
        var logger = Logger(label: "test") { _ in InMemoryLogHandler(recorder: recorder) }
        logger.logLevel = level
        return (logger, recorder)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        merged.merge(metadataProvider?.get() ?? [:]) { _, new in new }
        merged.merge(event.metadata ?? [:]) { _, new in new }
        recorder.append(Entry(level: event.level, message: event.message.description,
                              metadata: merged.mapValues { "\($0)" }))
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E5B9_E51C
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "cidp-logging-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The names of the files in `subdirectory` (or the directory itself), sorted.
    func fileNames(in subdirectory: String = "") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: subdirectory.isEmpty ? path : path + "/" + subdirectory).sorted()
    }

    func contents(of name: String) throws -> String {
        try String(contentsOfFile: path + "/" + name, encoding: .utf8)
    }
}
