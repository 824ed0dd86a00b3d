import Foundation
import Testing
import Pipeline
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The trainer's backup before training, with real `cidp worker trainer` processes (run on their
/// own, without a tree: each trains once at start when the warehouse has rows and no model for
/// them, then idles until killed) on warehouses loaded through `Warehouse` directly.
@Suite(.timeLimit(.minutes(3)))
struct TrainerBackupTests {
    /// Batch `id`: pumps P_000–P_009 × ten hours of their own, a failure every seventh hour.
    static func batch(_ id: UInt64) -> RecordBatch {
        let records = (0..<10).flatMap { pump in
            (0..<10).map { hour -> TelemetryRecord in
                let time = Int64(id) * 10 + Int64(hour)
                let failing: UInt8 = time % 7 == 0 ? 1 : 0
                return TelemetryRecord(
                    timestamp: 1_704_067_200 + time * 3600, pumpID: String(format: "P_%03d", pump),
                    flowRate: 500 + Double(pump), pressure: failing == 1 ? 3 : 5, vibration: failing == 1 ? 5.5 : 2,
                    temperature: failing == 1 ? 65 : 45, failure: failing,
                    vibrationRollingMean: failing == 1 ? 4 : 2, pressureRollingMean: failing == 1 ? 4 : 5)
            }
        }
        return RecordBatch(batchID: id, cursor: "cursor-\(id)", records: records)
    }

    static func commit(_ path: String, _ ids: [UInt64]) throws {
        let warehouse = try Warehouse(path: path, busyTimeout: .seconds(5))
        for id in ids { _ = try warehouse.commit(batch(id), dropped: 0, windowState: []) }
    }

    static func models(_ path: String) -> Int {
        (try? Warehouse(path: path, busyTimeout: .seconds(1)).listModels().count) ?? -1
    }

    /// `cidp worker trainer --db PATH --trees 5 ARGUMENTS`, in the background.
    static func trainer(_ sandbox: Sandbox, _ path: String, _ arguments: [String] = []) throws -> RunningSupervisor {
        try RunningSupervisor(sandbox: sandbox, arguments: ["worker", "trainer", "--db", path, "--trees", "5"] + arguments)
    }

    /// Stops an idle trainer: SIGKILL, since a child of the test runner inherits its blocked
    /// SIGTERM (a supervisor's spawn resets the mask; `Process` does not).
    static func stop(_ trainer: RunningSupervisor) {
        kill(trainer.pid, SIGKILL)
        #expect(trainer.waitForExit() != nil)
    }

    /// Runs a trainer until the warehouse has `models` models, then stops it.
    static func train(_ sandbox: Sandbox, _ path: String, until models: Int, _ arguments: [String] = []) throws {
        let trainer = try trainer(sandbox, path, arguments)
        #expect(poll(timeout: .seconds(60)) { Self.models(path) >= models || !trainer.isRunning }, "\(trainer.log)")
        #expect(Self.models(path) == models, "\(trainer.log)")
        stop(trainer)
    }

    /// Runs a trainer expected to fail on its own; returns its output.
    static func failingRun(_ sandbox: Sandbox, _ path: String, _ arguments: [String] = []) throws -> String {
        let trainer = try trainer(sandbox, path, arguments)
        #expect(trainer.waitForExit(timeout: .seconds(60)) == 1, "\(trainer.log)")
        return trainer.log
    }

    static func listing(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    @Test func sevenTrainersOfWarehousesInOneFolderStartedAtOnceEachKeepTheirOwnBackup() throws {
        let sandbox = try Sandbox(policy: "")
        let paths = (0..<7).map { sandbox.path + "/w\($0).sqlite" }
        for (index, path) in paths.enumerated() { try Self.commit(path, Array(1...UInt64(index + 1))) }
        // The default backup directory, shared: backups/ beside the warehouses; one kept each.
        let trainers = try paths.map { try Self.trainer(sandbox, $0, ["--backup-keep", "1"]) }
        let trained = poll(timeout: .seconds(120)) { paths.allSatisfy { Self.models($0) == 1 } }
        for trainer in trainers { Self.stop(trainer) }
        #expect(trained, "\(trainers.map { $0.log.suffix(500) })")
        let backups = Self.listing(sandbox.path + "/backups")
        #expect(backups.count == 7, "\(backups)")
        for (index, path) in paths.enumerated() {
            let series = BackupSeries(warehouse: path, kind: "pre-train", in: sandbox.path + "/backups")
            let members = try series.members()
            #expect(members.count == 1, "w\(index): \(backups)")
            if let member = members.first {
                #expect(try Warehouse.verify(series.path(of: member)).factRows == Int64(index + 1) * 100)
            }
        }
    }

    @Test func aFileAtTheBackupsExactNameDoesNotStopTheBackupNorTheTraining() throws {
        let sandbox = try Sandbox(policy: "")
        let path = sandbox.path + "/dwh.sqlite"
        try Self.commit(path, [1, 2, 3])
        let series = BackupSeries(warehouse: path, kind: "pre-train", in: sandbox.path + "/backups")
        // Someone else's file at every name the trainer can pick for the next 20 s (hard links to
        // one file: quick to make).
        try FileManager.default.createDirectory(atPath: series.directory, withIntermediateDirectories: true)
        let foreign = sandbox.path + "/not-a-backup"
        try Data("not a backup".utf8).write(to: URL(fileURLWithPath: foreign))
        let start = BackupSeries.nowMilliseconds()
        let failed = (start..<(start + 20_000)).filter { link(foreign, series.path(of: series.name(atMilliseconds: $0))) != 0 }
        #expect(failed.isEmpty)
        try Self.train(sandbox, path, until: 1, ["--backup-keep", "5"])
        // The backup was taken under the next name of its millisecond, and verifies.
        let members = try series.members()
        let taken = members.filter { $0.hasSuffix("-1.sqlite") }
        #expect(taken.count == 1, "\(members.suffix(10))")
        if let taken = taken.first {
            #expect(try Warehouse.verify(series.path(of: taken)).factRows == 300)
        }
        // Rotation kept five by name and the one just made; no foreign file was written to.
        #expect(members.count == 6, "\(members)")
        for name in members where name != taken.first {
            #expect(FileManager.default.contents(atPath: series.path(of: name)) == Data("not a backup".utf8))
        }
    }

    @Test func aBackupThatCannotBeMadeMeansNoTraining() throws {
        let sandbox = try Sandbox(policy: "")
        let path = sandbox.path + "/dwh.sqlite"
        try Self.commit(path, [1, 2])
        // The backup directory cannot be created (its parent is a file): root or not, no backup.
        let blocker = sandbox.touch("not-a-directory")
        let log = try Self.failingRun(sandbox, path, ["--backup-dir", blocker + "/backups"])
        #expect(log.contains("trainer: no training without a backup"), "\(log)")
        #expect(Self.models(path) == 0)
        #expect(!log.contains("\"Training\""), "\(log)")
    }

    @Test func aCrashLoopingTrainerNeverRotatesAwayTheGoodBackups() throws {
        let sandbox = try Sandbox(policy: "")
        let path = sandbox.path + "/dwh.sqlite"
        let keep = ["--backup-keep", "3"]
        let series = BackupSeries(warehouse: path, kind: "pre-train", in: sandbox.path + "/backups")
        // Three trainings, each on a newer warehouse: three good backups.
        for round in 1...3 {
            try Self.commit(path, [UInt64(round)])
            try Self.train(sandbox, path, until: round, keep)
        }
        let good = try series.members()
        #expect(good.count == 3)

        // A bad row the trainer cannot read (integrity_check cannot see it: not a STRICT table).
        // The first start backs the new state up, fails and exits 1; the next find it unchanged:
        // no copy, no rotation, whatever the number of restarts.
        try Self.commit(path, [4])
        try Database(path: path).execute("""
            UPDATE fact_telemetry_features SET flow_rate = 'unreadable' WHERE pump_id = 'P_003' AND timestamp = '2024-01-02 16:00:00'
            """)
        for start in 0..<4 {
            let log = try Self.failingRun(sandbox, path, keep)
            #expect(log.contains("cannot read the training data"), "\(log)")
            #expect(log.contains(start == 0 ? "\"Backup before training\"" : "unchanged since the newest"), "\(log)")
        }
        let afterBadRow = try series.members()
        #expect(afterBadRow.count == 3 && Array(afterBadRow.prefix(2)) == Array(good.suffix(2)), "\(afterBadRow)")
        #expect(Self.models(path) == 3)

        // Now an index goes bad after a new batch (quick_check does not look at indexes; the
        // trainer's integrity_check before training does): every start halts the chain naming the
        // corrupt warehouse before any backup is tried; every backup stays as it was.
        try Self.commit(path, [5])
        try corruptServingIndex(path)
        let bytes = afterBadRow.map { FileManager.default.contents(atPath: series.path(of: $0)) }
        for _ in 0..<4 {
            let trainer = try Self.trainer(sandbox, path, keep)
            #expect(poll(timeout: .seconds(60)) { trainer.log.contains("Chain halted") || !trainer.isRunning }, "\(trainer.log)")
            Self.stop(trainer)
            let log = trainer.log
            #expect(log.contains("corrupt: warehouse") && log.contains("cidp restore"), "\(log)")
            #expect(!log.contains("\"Backup before training\"") && !log.contains("\"Training\""), "\(log)")
        }
        #expect(try series.members() == afterBadRow)
        #expect(afterBadRow.map { FileManager.default.contents(atPath: series.path(of: $0)) } == bytes)
        #expect(Self.listing(series.directory) == afterBadRow, "a .partial was left")
        #expect(Self.models(path) == 3)
    }

    @Test func staleBackupFilesAreRemovedWhenTheTrainerStarts() throws {
        let sandbox = try Sandbox(policy: "")
        let path = sandbox.path + "/dwh.sqlite"
        try Self.commit(path, [1, 2])
        try Self.train(sandbox, path, until: 1)
        let series = BackupSeries(warehouse: path, kind: "pre-train", in: sandbox.path + "/backups")
        let backups = try series.members()
        // What killed backups leave (a copy and its journal), another warehouse's, and one being written.
        let stale = series.path(of: series.name(atMilliseconds: 1_704_067_200_000)) + ".partial"
        let live = series.path(of: series.name(atMilliseconds: 1_704_067_200_001)) + ".partial"
        let foreign = series.directory + "/other-pre-train-20240101-000000-000.sqlite.partial"
        for file in [stale, stale + "-journal", live, foreign] {
            _ = FileManager.default.createFile(atPath: file, contents: Data(repeating: 7, count: 1 << 20))
        }
        let holder = open(live, O_RDONLY | O_CLOEXEC)
        defer { close(holder) }
        #expect(flock(holder, LOCK_EX | LOCK_NB) == 0)
        // The model is up to date: this start trains nothing and backs nothing up; it only cleans.
        let trainer = try Self.trainer(sandbox, path)
        #expect(poll(timeout: .seconds(30)) { trainer.log.contains("Stale partial backups removed") }, "\(trainer.log)")
        Self.stop(trainer)
        #expect(trainer.log.contains("Model up to date"), "\(trainer.log)")
        let expected = (backups + [live, foreign].map { URL(fileURLWithPath: $0).lastPathComponent }).sorted()
        #expect(Self.listing(series.directory) == expected)
    }
}

/// Renames the serving model's key in the `ml_models_one_serving` index page, so the index no
/// longer holds that row: `PRAGMA quick_check` still passes, `integrity_check` does not. The
/// same as WorkersTests' `IndexCorruption.corruptServingIndex` (test targets share no code).
func corruptServingIndex(_ path: String) throws {
    let (pageSize, rootPage): (Int64, Int64)
    do {
        let db = try Database(path: path)
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        let query = try db.prepare(
            "SELECT (SELECT page_size FROM pragma_page_size), rootpage FROM sqlite_schema WHERE name = 'ml_models_one_serving'")
        _ = try query.step()
        (pageSize, rootPage) = (query.int64(at: 0), query.int64(at: 1))
    }
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    let offset = UInt64((rootPage - 1) * pageSize)
    try handle.seek(toOffset: offset)
    var page = try #require(try handle.read(upToCount: Int(pageSize)))
    var replaced = 0
    while let range = page.range(of: Data("serving".utf8)) {
        page.replaceSubrange(range, with: Data("servinh".utf8))
        replaced += 1
    }
    #expect(replaced > 0, "the index page holds no 'serving' key")
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: page)
    let check = try Database(readOnlyPath: path).prepare("PRAGMA quick_check")
    _ = try check.step()
    #expect(check.string(at: 0) == "ok")
}
