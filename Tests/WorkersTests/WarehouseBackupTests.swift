import Foundation
import Testing
import Pipeline
import Wire
import Workers

/// `Warehouse.backup`, `verify` and `restore` on real files (names and rotation: `BackupSeriesTests`;
/// the trainer's backup: `WarehouseAutomaticBackupTests`).
@Suite(.timeLimit(.minutes(1))) struct WarehouseBackupTests {
    /// Batch `id`: 100 records, pumps P_000–P_009 × ten hours of their own.
    static func batch(_ id: UInt64) -> RecordBatch {
        let records = (0..<10).flatMap { pump in
            (0..<10).map { hour in makeRecord(String(format: "P_%03d", pump), hour: Int64(id) * 10 + Int64(hour)) }
        }
        return makeBatch(id, records)
    }

    /// A warehouse at `directory/dwh.sqlite` with `batches` batches and a serving model with predictions.
    static func populated(_ directory: String, batches: UInt64 = 40) throws -> (Warehouse, String) {
        let (warehouse, data, path) = try WarehouseModelPublishTests.loaded(directory)
        _ = try warehouse.publish(model: WarehouseModelPublishTests.newModel(), predictions: WarehouseModelPublishTests.predictions(data, run: 1))
        for id in 2...(batches + 1) { _ = try warehouse.commit(batch(id), dropped: 1, windowState: [UInt8(id % 256)]) }
        return (warehouse, path)
    }

    @Test func aBackupEqualsItsSourceAndPassesIntegrityCheck() throws {
        try withTemporaryDirectory { directory in
            let (source, path) = try Self.populated(directory)
            let destination = directory + "/backups/nested/copy.sqlite"
            var progress: [(Int, Int)] = []
            let report = try Warehouse.backup(from: path, to: destination, pagesPerStep: 16) { progress.append(($0, $1)) }
            #expect(report.path == destination)
            #expect(report.integrity == "ok")
            #expect(report.factRows == 12 + 40 * 100)
            #expect(report.factRows == (try source.rowCount()))
            #expect(report.predictionRows == 12)
            #expect(report.models == 1)
            #expect(report.pages > 16)
            #expect(progress.count > 1 && progress.last?.0 == 0 && progress.last?.1 == report.pages)
            #expect(try Warehouse.verify(destination) == report)
            // One self-contained file: no `.partial`, no `-wal` beside it.
            #expect(!FileManager.default.fileExists(atPath: destination + ".partial"))
            #expect(!FileManager.default.fileExists(atPath: destination + "-wal"))
            let copy = try Warehouse(path: destination, busyTimeout: .seconds(1))
            #expect(try copy.rows() == source.rows())
            #expect(try copy.checkpoint() == source.checkpoint())
            #expect(try copy.servingModel() == source.servingModel())
        }
    }

    @Test func anExistingDestinationIsRefusedAndLeftAsItWas() throws {
        try withTemporaryDirectory { directory in
            let (_, path) = try Self.populated(directory, batches: 2)
            let destination = directory + "/taken.sqlite"
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: destination))
            #expect(throws: WarehouseError(.destinationExists(destination), path: path)) {
                try Warehouse.backup(from: path, to: destination)
            }
            #expect(fileBytes(destination) == Data("keep me".utf8))
            #expect(!FileManager.default.fileExists(atPath: destination + ".partial"))
        }
    }

    @Test func aMissingSourceIsRefusedAndWritesNothing() throws {
        try withTemporaryDirectory { directory in
            let destination = directory + "/copy.sqlite"
            #expect(throws: WarehouseError(.noSuchFile, path: directory + "/missing.sqlite")) {
                try Warehouse.backup(from: directory + "/missing.sqlite", to: destination)
            }
            #expect(!FileManager.default.fileExists(atPath: destination))
        }
    }

    @Test func aCorruptFileFailsVerificationAndItsBackupLeavesNoFile() throws {
        try withTemporaryDirectory { directory in
            let (_, path) = try Self.populated(directory)
            let good = directory + "/good.sqlite"
            let report = try Warehouse.backup(from: path, to: good)
            // Overwrite one page in the middle of a copy of the backup.
            var bytes = try #require(fileBytes(good))
            let pageSize = bytes.count / report.pages
            let middle = pageSize * (report.pages / 2)
            bytes.replaceSubrange(middle..<(middle + pageSize), with: Data(repeating: 0x5A, count: pageSize))
            let corrupt = directory + "/corrupt.sqlite"
            try bytes.write(to: URL(fileURLWithPath: corrupt))
            #expect(throws: WarehouseError.self) { try Warehouse.verify(corrupt) }
            #expect(fileBytes(corrupt) == bytes, "verify modified the file")
            let destination = directory + "/copy-of-corrupt.sqlite"
            #expect(throws: WarehouseError.self) { try Warehouse.backup(from: corrupt, to: destination) }
            #expect(!FileManager.default.fileExists(atPath: destination))
            #expect(!FileManager.default.fileExists(atPath: destination + ".partial"))
        }
    }

    @Test func aFileThatIsNotAWarehouseFailsVerification() throws {
        try withTemporaryDirectory { directory in
            let other = directory + "/other.sqlite"
            try Database(path: other).execute("CREATE TABLE t (x)")
            #expect(throws: WarehouseError(.verificationFailed("table 'schema_migrations' is missing"), path: other)) {
                try Warehouse.verify(other)
            }
        }
    }

    @Test func anIndexDisagreeingWithItsTablePassesQuickCheckButFailsVerification() throws {
        try withTemporaryDirectory { directory in
            let (_, path) = try Self.populated(directory, batches: 3)
            let good = try Warehouse.backup(from: path, to: directory + "/good.sqlite")
            try IndexCorruption.corruptServingIndex(good.path)
            // What the trainer's gate and the old verification looked at says nothing…
            #expect(try IndexCorruption.pragma(good.path, "quick_check") == "ok")
            #expect(try IndexCorruption.pragma(good.path, "integrity_check") != "ok")
            let bytes = try #require(fileBytes(good.path))
            // …verification does, in one line, and changes nothing.
            let error = try #require(throws: WarehouseError.self) { try Warehouse.verify(good.path) }
            guard case .verificationFailed(let why) = error.code else { Issue.record("\(error)"); return }
            #expect(why.hasPrefix("integrity_check: ") && why.contains("missing from index ml_models_one_serving"), "\(why)")
            #expect(!error.description.contains("\n"), "\(error)")
            #expect(fileBytes(good.path) == bytes)
            // A copy of it is never kept: no file, no `.partial`.
            let copy = directory + "/copy.sqlite"
            #expect(throws: WarehouseError.self) { try Warehouse.backup(from: good.path, to: copy) }
            #expect(try Self.listing(directory).filter { $0.hasPrefix("copy") }.isEmpty)
        }
    }

    @Test func aBackupIntoASeriesTakesTheNextNameWhenOneIsTakenAndNeverOverwrites() throws {
        try withTemporaryDirectory { directory in
            let (_, path) = try Self.populated(directory, batches: 2)
            let series = BackupSeries(warehouse: path, kind: "pre-train", in: directory + "/backups")
            let now = BackupSeriesTests.newYear
            let taken = series.path(of: series.name(atMilliseconds: now))
            try FileManager.default.createDirectory(atPath: series.directory, withIntermediateDirectories: true)
            try Data("someone else's".utf8).write(to: URL(fileURLWithPath: taken))
            let first = try Warehouse.backup(from: path, into: series, atMilliseconds: now)
            #expect(first.path == series.path(of: series.name(atMilliseconds: now, attempt: 1)))
            #expect(fileBytes(taken) == Data("someone else's".utf8))
            // The same millisecond again: the one after.
            let second = try Warehouse.backup(from: path, into: series, atMilliseconds: now)
            #expect(second.path == series.path(of: series.name(atMilliseconds: now, attempt: 2)))
            #expect(try Warehouse.verify(first.path).factRows == first.factRows && first.factRows == 12 + 2 * 100)
            // A `.partial` another backup is writing (locked) is not taken over: that name is skipped.
            let busy = series.path(of: series.name(atMilliseconds: now + 1)) + ".partial"
            _ = FileManager.default.createFile(atPath: busy, contents: Data("being written".utf8))
            let holder = open(busy, O_RDONLY | O_CLOEXEC)
            defer { close(holder) }
            #expect(flock(holder, LOCK_EX | LOCK_NB) == 0)
            let third = try Warehouse.backup(from: path, into: series, atMilliseconds: now + 1)
            #expect(third.path == series.path(of: series.name(atMilliseconds: now + 1, attempt: 1)))
            #expect(fileBytes(busy) == Data("being written".utf8))
            #expect(try series.members().map(series.path(of:)) == [taken, first.path, second.path, third.path])
        }
    }

    @Test func sevenWarehousesBackedUpIntoOneDirectoryInTheSameMillisecondKeepTheirOwn() throws {
        try withTemporaryDirectory { directory in
            // Seven warehouses side by side, each a different size, the trainer's default backups/ shared.
            let paths = (0..<7).map { directory + "/w\($0).sqlite" }
            for (index, path) in paths.enumerated() {
                let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
                for id in 1...UInt64(index + 1) { _ = try warehouse.commit(Self.batch(id), dropped: 0, windowState: []) }
            }
            // Some earlier backups of each, so that rotation has something to rotate.
            let backups = directory + "/backups"
            for path in paths {
                _ = try Warehouse.backUpIfChanged(path, into: BackupSeries(warehouse: path, kind: "pre-train", in: backups),
                                                  keep: 1, atMilliseconds: BackupSeriesTests.newYear)
                _ = try Warehouse(path: path, busyTimeout: .seconds(1)).commit(Self.batch(99), dropped: 0, windowState: [])
            }
            // All at once, one millisecond for all, keeping one each.
            let outcomes = ConcurrentResults<AutomaticBackup>()
            DispatchQueue.concurrentPerform(iterations: paths.count) { index in
                let path = paths[index]
                outcomes.record(index) {
                    try Warehouse.backUpIfChanged(path, into: BackupSeries(warehouse: path, kind: "pre-train", in: backups),
                                                  keep: 1, atMilliseconds: BackupSeriesTests.newYear + 1000)
                }
            }
            let stamp = "-pre-train-20240101-000001-000.sqlite"
            #expect(try Self.listing(backups) == (0..<7).map { "w\($0)" + stamp }.sorted())
            for index in 0..<7 {
                guard case .taken(let report, let deleted, _) = try outcomes.result(index) else {
                    Issue.record("w\(index): no backup taken"); continue
                }
                #expect(report.path == backups + "/w\(index)" + stamp)
                #expect(deleted == [backups + "/w\(index)-pre-train-20240101-000000-000.sqlite"])
                #expect(try Warehouse.verify(report.path).factRows == Int64(index + 2) * 100)
            }
        }
    }

    @Test func aBackupDuringContinuousCommitsIsOneConsistentSnapshot() throws {
        try withTemporaryDirectory { directory in
            let (_, path) = try Self.populated(directory, batches: 100)
            let writer = CommitLoop(path: path, firstBatch: 102)
            Thread.detachNewThread { writer.run() }
            defer { writer.stop() }
            #expect(writer.waitForCommits(5), "the writer did not start")
            let before = writer.committed
            // Pause in each small step, so the writer commits many times while the copy is made.
            var steps = 0
            let report = try Warehouse.backup(from: path, to: directory + "/copy.sqlite", pagesPerStep: 8) { _, _ in
                steps += 1
                usleep(500)
            }
            let after = writer.committed
            writer.stop()
            #expect(writer.failure == nil)
            #expect(steps > 10)
            #expect(after > before, "no commit happened during the backup")
            let copy = report.path
            let inserted = try queryInteger(copy, "SELECT sum(rows_inserted) FROM etl_batches")
            let lastBatch = try queryInteger(copy, "SELECT max(batch_id) FROM etl_batches")
            #expect(report.factRows == inserted)
            #expect(report.factRows >= 12 + 100 * 100 + Int64(before) * 100)
            let checkpoint = try #require(try Warehouse(path: copy, busyTimeout: .seconds(1)).checkpoint())
            #expect(checkpoint.batchID == UInt64(lastBatch))
            #expect(checkpoint.rowsLoaded == report.factRows)
        }
    }

    @Test func aRestoreReplacesTheWarehouseAndKeepsTheOldOne() throws {
        try withTemporaryDirectory { directory in
            let (source, path) = try Self.populated(directory, batches: 3)
            let backup = try Warehouse.backup(from: path, to: directory + "/b.sqlite")
            _ = try source.commit(Self.batch(50), dropped: 0, windowState: [])
            let newer = try source.rowCount()
            let safety = path + ".before-restore-test"
            let report = try Warehouse.restore(backup.path, over: path, safetyCopy: safety)
            #expect(report.safetyCopy == safety)
            #expect(report.restored.factRows == backup.factRows)
            #expect(try Warehouse(path: path, busyTimeout: .seconds(1)).rowCount() == backup.factRows)
            #expect(try Warehouse.verify(safety).factRows == newer)
            #expect(!FileManager.default.fileExists(atPath: path + ".restoring"))
        }
    }

    @Test func restoresKeepEachReplacedWarehouseUnderItsOwnNameAndOnlyTheNewestThree() throws {
        try withTemporaryDirectory { directory in
            let (_, path) = try Self.populated(directory, batches: 3)
            let backup = try Warehouse.backup(from: path, to: directory + "/b.sqlite")
            let series = BackupSeries(safetyCopiesOf: path)
            var kept: [String] = []
            // Five restores in one millisecond, each over a warehouse with one batch more, so every
            // copy is of another warehouse.
            for round in 0..<5 {
                let rows = try {
                    let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
                    _ = try warehouse.commit(Self.batch(50 + UInt64(round)), dropped: 0, windowState: [])
                    return try warehouse.rowCount()
                }()
                let report = try Warehouse.restore(backup.path, over: path, atMilliseconds: BackupSeriesTests.newYear)
                let copy = try #require(report.safetyCopy)
                #expect(copy == series.path(of: series.name(atMilliseconds: BackupSeriesTests.newYear, attempt: round)))
                #expect(report.rotationFailure == nil)
                #expect(report.deletedSafetyCopies == (round >= 3 ? [kept[round - 3]] : []))
                #expect(report.restored.factRows == backup.factRows && report.restored.path == path)
                #expect(try Warehouse.verify(copy).factRows == rows)
                kept.append(copy)
            }
            #expect(try series.members().map(series.path(of:)) == Array(kept.suffix(3)))
            // Opening a copy (verify, above) may leave its `-shm` and `-wal`: they go with it.
            let left = try Self.listing(directory).filter { $0.contains(".before-restore-") }
            let survivors = kept.suffix(3).map { URL(fileURLWithPath: $0).lastPathComponent }
            #expect(left.allSatisfy { name in survivors.contains { name == $0 || name == $0 + "-wal" || name == $0 + "-shm" } }, "\(left)")
        }
    }

    @Test func aCorruptBackupIsRefusedBeforeAnythingChanges() throws {
        try withTemporaryDirectory { directory in
            let (source, path) = try Self.populated(directory, batches: 3)
            let backup = try Warehouse.backup(from: path, to: directory + "/b.sqlite")
            try IndexCorruption.corruptServingIndex(backup.path)
            _ = try source.commit(Self.batch(50), dropped: 0, windowState: [])
            let before = try Self.listing(directory)
            let rows = try source.rowCount()
            let error = try #require(throws: WarehouseError.self) { try Warehouse.restore(backup.path, over: path) }
            #expect(error.path == backup.path, "\(error)")
            guard case .verificationFailed(let why) = error.code else { Issue.record("\(error)"); return }
            #expect(why.hasPrefix("integrity_check: "), "\(why)")
            #expect(try Self.listing(directory) == before)
            #expect(try source.rowCount() == rows)
        }
    }

    static func listing(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }
}

/// Results of work done on several threads at once, by index.
final class ConcurrentResults<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<Value, any Error>] = [:]

    func record(_ index: Int, _ work: () throws -> Value) {
        let result = Result { try work() }
        lock.withLock { results[index] = result }
    }

    func result(_ index: Int) throws -> Value {
        guard let result = lock.withLock({ results[index] }) else { throw CancellationError() }
        return try result.get()
    }
}

/// Commits `WarehouseBackupTests.batch`es through its own `Warehouse` on a thread until stopped.
final class CommitLoop: @unchecked Sendable {
    private let lock = NSLock()
    private let path: String
    private let firstBatch: UInt64
    private var isStopped = false
    private var count = 0
    private var error: String?

    init(path: String, firstBatch: UInt64) {
        self.path = path
        self.firstBatch = firstBatch
    }

    var committed: Int { lock.withLock { count } }
    var failure: String? { lock.withLock { error } }
    func stop() { lock.withLock { isStopped = true } }

    func waitForCommits(_ target: Int) -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if committed >= target { return true }
            usleep(1_000)
        }
        return false
    }

    func run() {
        do {
            let warehouse = try Warehouse(path: path, busyTimeout: .seconds(5))
            var id = firstBatch
            while !lock.withLock({ isStopped }) {
                _ = try warehouse.commit(WarehouseBackupTests.batch(id), dropped: 0, windowState: [])
                id += 1
                lock.withLock { count += 1 }
            }
        } catch {
            lock.withLock { self.error = "\(error)" }
        }
    }
}
