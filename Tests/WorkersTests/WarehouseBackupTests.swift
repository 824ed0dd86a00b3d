import Foundation
import Testing
import Wire
import Workers

/// `Warehouse.backup`, `verify`, `restore` and `rotateBackups` on real files.
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

    @Test func aBackupEqualsItsSourceAndPassesQuickCheck() throws {
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

    @Test func rotationKeepsTheNewestBackupsAndNothingElse() throws {
        try withTemporaryDirectory { directory in
            let times: [Int64] = [1_704_067_200, 1_704_070_800, 1_706_745_600, 1_709_251_200, 1_709_251_201]
            let names = times.map { Warehouse.backupFileName(prefix: "dwh", at: $0) }
            #expect(names[0] == "dwh-20240101-000000.sqlite")
            let others = ["dwh-2024-01-01.sqlite", "other-20240101-000000.sqlite", "dwh-20240101-000000.sqlite.partial", "notes.txt"]
            for name in names.shuffled() + others { _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: nil) }
            let deleted = try Warehouse.rotateBackups(in: directory, prefix: "dwh", keep: 2)
            #expect(deleted == names.prefix(3).map { directory + "/" + $0 })
            let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            #expect(left == (Array(names.suffix(2)) + others).sorted())
            #expect(try Warehouse.rotateBackups(in: directory, prefix: "dwh", keep: 2).isEmpty)
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
