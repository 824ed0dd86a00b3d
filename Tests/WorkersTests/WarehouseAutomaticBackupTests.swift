import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `Warehouse.backUpIfChanged` (the trainer's backup before training) and `changeMark` on real files.
@Suite(.timeLimit(.minutes(1))) struct WarehouseAutomaticBackupTests {
    static let newYear = BackupSeriesTests.newYear

    static func series(_ path: String) -> BackupSeries {
        BackupSeries(warehouse: path, kind: "pre-train", in: Warehouse.parentDirectory(of: path) + "/backups")
    }

    static func taken(_ outcome: AutomaticBackup) -> BackupReport? {
        if case .taken(let report, _, _) = outcome { return report }
        return nil
    }

    @Test func theMarkChangesWithEveryWriterAndOnlyThen() throws {
        try withTemporaryDirectory { directory throws in
            let (warehouse, path) = try WarehouseBackupTests.populated(directory, batches: 2)
            let first = try Warehouse.changeMark(of: path)
            #expect(first.lastBatchID == 3 && first.rowsLoaded == 12 + 200 && first.modelSequence == 1 && first.models == 1)
            #expect(try Warehouse.changeMark(of: path) == first)
            // A backup has the mark of its source.
            let copy = try Warehouse.backup(from: path, to: directory + "/copy.sqlite")
            #expect(try Warehouse.changeMark(of: copy.path) == first)
            // A batch committed.
            _ = try warehouse.commit(WarehouseBackupTests.batch(10), dropped: 0, windowState: [])
            let second = try Warehouse.changeMark(of: path)
            #expect(second != first && second.lastBatchID == 10)
            // A model registered, even rejected, even once its row is gone.
            _ = try warehouse.recordRejected(WarehouseModelPublishTests.newModel(tag: 2), reason: "worse")
            let third = try Warehouse.changeMark(of: path)
            #expect(third != second && third.modelSequence == 2 && third.models == 2)
            try Database(path: path).execute("DELETE FROM ml_models WHERE version = 2")
            let fourth = try Warehouse.changeMark(of: path)
            #expect(fourth != second && fourth.modelSequence == 2 && fourth.models == 1)
            // A file that is not a warehouse has an empty mark; a missing one none.
            _ = FileManager.default.createFile(atPath: directory + "/empty.sqlite", contents: nil)
            #expect(try Warehouse.changeMark(of: directory + "/empty.sqlite").lastBatchID == 0)
            #expect(throws: WarehouseError(.noSuchFile, path: directory + "/none.sqlite")) {
                try Warehouse.changeMark(of: directory + "/none.sqlite")
            }
        }
    }

    @Test func aBackupIsTakenOnlyWhenTheWarehouseChangedSinceTheNewest() throws {
        try withTemporaryDirectory { directory throws in
            let (warehouse, path) = try WarehouseBackupTests.populated(directory, batches: 2)
            let series = Self.series(path)
            let first = try #require(Self.taken(try Warehouse.backUpIfChanged(path, into: series, keep: 3, atMilliseconds: Self.newYear)))
            #expect(first.path == series.path(of: "dwh-pre-train-20240101-000000-000.sqlite"))
            // Nothing changed: no copy, whatever the clock says.
            for step in 1...3 {
                let outcome = try Warehouse.backUpIfChanged(path, into: series, keep: 3, atMilliseconds: Self.newYear + Int64(step) * 1000)
                guard case .unchanged(let newest, let mark, let deleted, _) = outcome else { Issue.record("\(outcome)"); continue }
                let live = try Warehouse.changeMark(of: path)
                #expect(newest == first.path && mark == live && deleted.isEmpty)
            }
            #expect(try series.members() == ["dwh-pre-train-20240101-000000-000.sqlite"])
            // A batch later: a new one; the rotation keeps three.
            var made = [first.path]
            for step in 1...3 {
                _ = try warehouse.commit(WarehouseBackupTests.batch(10 + UInt64(step)), dropped: 0, windowState: [])
                let outcome = try Warehouse.backUpIfChanged(path, into: series, keep: 3, atMilliseconds: Self.newYear + 60_000 * Int64(step))
                guard case .taken(let report, let deleted, _) = outcome else { Issue.record("\(outcome)"); continue }
                #expect(deleted == (step == 3 ? [first.path] : []))
                #expect(report.factRows == 12 + Int64(2 + step) * 100)
                made.append(report.path)
            }
            #expect(try series.members().map(series.path(of:)) == Array(made.suffix(3)))
        }
    }

    @Test func aNewestBackupThatCannotBeReadCountsAsChanged() throws {
        try withTemporaryDirectory { directory throws in
            let (_, path) = try WarehouseBackupTests.populated(directory, batches: 2)
            let series = Self.series(path)
            let first = try #require(Self.taken(try Warehouse.backUpIfChanged(path, into: series, keep: 5, atMilliseconds: Self.newYear)))
            // Something took a newer name in the series: it is not a warehouse.
            let impostor = series.path(of: series.name(atMilliseconds: Self.newYear + 1))
            try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: impostor))
            let second = try #require(Self.taken(try Warehouse.backUpIfChanged(path, into: series, keep: 5, atMilliseconds: Self.newYear + 2)))
            #expect(try series.members().map(series.path(of:)) == [first.path, impostor, second.path])
        }
    }

    @Test func aCorruptWarehouseGetsNoBackupAndItsGoodBackupsSurviveEveryAttempt() throws {
        try withTemporaryDirectory { directory throws in
            let (_, path) = try WarehouseBackupTests.populated(directory, batches: 2)
            let series = Self.series(path)
            // Three good backups, each of a newer warehouse.
            var good: [String] = []
            for step in 0..<3 {
                if step > 0 {
                    _ = try Warehouse(path: path, busyTimeout: .seconds(1)).commit(WarehouseBackupTests.batch(10 + UInt64(step)), dropped: 0, windowState: [])
                }
                good.append(try #require(Self.taken(try Warehouse.backUpIfChanged(
                    path, into: series, keep: 3, atMilliseconds: Self.newYear + Int64(step) * 1000))).path)
            }
            let goodBytes = good.map(fileBytes)
            // Then the warehouse changes and an index goes bad: quick_check still passes.
            _ = try Warehouse(path: path, busyTimeout: .seconds(1)).commit(WarehouseBackupTests.batch(20), dropped: 0, windowState: [])
            try IndexCorruption.corruptServingIndex(path)
            #expect(try IndexCorruption.pragma(path, "quick_check") == "ok")
            // A crash-looping trainer tries again and again: never a copy kept, never a good one deleted.
            for attempt in 0..<6 {
                let error = try #require(throws: WarehouseError.self) {
                    try Warehouse.backUpIfChanged(path, into: series, keep: 3, atMilliseconds: Self.newYear + 10_000 + Int64(attempt))
                }
                guard case .verificationFailed(let why) = error.code else { Issue.record("\(error)"); continue }
                #expect(why.contains("missing from index ml_models_one_serving"), "\(why)")
                #expect(error.path == series.path(of: series.name(atMilliseconds: Self.newYear + 10_000 + Int64(attempt))))
            }
            #expect(try series.members().map(series.path(of:)) == good)
            #expect(good.map(fileBytes) == goodBytes)
            #expect(try FileManager.default.contentsOfDirectory(atPath: series.directory).count == 3, "a .partial was left")
        }
    }

    @Test func staleBackupFilesAreRemovedBeforeTheBackup() throws {
        try withTemporaryDirectory { directory throws in
            let (_, path) = try WarehouseBackupTests.populated(directory, batches: 1)
            let series = Self.series(path)
            try FileManager.default.createDirectory(atPath: series.directory, withIntermediateDirectories: true)
            let stale = series.path(of: series.name(atMilliseconds: Self.newYear - 5000)) + ".partial"
            try Data(repeating: 1, count: 1 << 20).write(to: URL(fileURLWithPath: stale))
            _ = FileManager.default.createFile(atPath: stale + "-journal", contents: Data("hot".utf8))
            let outcome = try Warehouse.backUpIfChanged(path, into: series, keep: 1, atMilliseconds: Self.newYear)
            guard case .taken(let report, _, let removed) = outcome else { Issue.record("\(outcome)"); return }
            #expect(removed == [stale])
            #expect(try FileManager.default.contentsOfDirectory(atPath: series.directory) == [URL(fileURLWithPath: report.path).lastPathComponent])
        }
    }
}
