import Posix
import CSQLite
import Foundation
import Glibc

/// What a backup, a verification or a restore found in a warehouse file.
public struct BackupReport: Equatable, Sendable {
    /// The file checked: the backup's destination, the verified or restored file.
    public var path: String
    /// Its size in pages (`PRAGMA page_count`).
    public var pages: Int
    /// Rows of `fact_telemetry_features`.
    public var factRows: Int64
    /// Rows of `ai_telemetry_predictions`.
    public var predictionRows: Int64
    /// Rows of `ml_models`.
    public var models: Int
    /// What `PRAGMA integrity_check` said: always `ok` in a report (anything else throws).
    public var integrity: String

    /// A report with every field given.
    public init(path: String, pages: Int, factRows: Int64, predictionRows: Int64, models: Int, integrity: String) {
        self.path = path
        self.pages = pages
        self.factRows = factRows
        self.predictionRows = predictionRows
        self.models = models
        self.integrity = integrity
    }
}

/// Online backup and verification of warehouse files (`BackupSeries` names and rotates them).
///
/// A backup is a consistent snapshot taken while the loader and the trainer keep writing: the
/// source connection holds ONE read transaction across every `sqlite3_backup_step`. SQLite
/// restarts a backup whose source is changed by another connection, but only when the backup
/// opens a new read transaction of its own for a step; with ours held open, every step reads the
/// same WAL snapshot, so a backup in chunks terminates under a continuous writer and copies the
/// database as of the moment the transaction began. In WAL mode the reader blocks no writer; the
/// WAL only cannot be checkpointed past the snapshot until the backup ends.
extension Warehouse {
    /// The pages a backup copies per `sqlite3_backup_step` (4 MiB at the default page size).
    public static let backupPagesPerStep = 1024

    /// How long a backup waits out `SQLITE_BUSY`/`SQLITE_LOCKED` in total before it gives up.
    static let backupBusyDeadline: Duration = .seconds(60)

    /// Copies the database at `sourcePath` to the new file `destination` with SQLite's online
    /// backup, then verifies the copy (`verify`: `PRAGMA integrity_check`, the tables).
    ///
    /// The copy is written to `destination + ".partial"` (created exclusively and locked while
    /// written: a stale one from a killed backup is removed first, one a live backup holds is
    /// refused), switched to `journal_mode=DELETE` (one self-contained file), verified, fsynced,
    /// then hard-linked to `destination`, which fails rather than replaces if the name was taken
    /// meanwhile: a crash never leaves a half backup under the real name, and a copy that fails
    /// its verification is never kept. The parent directory is created if missing.
    /// C: `sqlite3_backup_init`, `sqlite3_backup_step`, `sqlite3_backup_finish`, `link(2)`.
    /// - Parameters:
    ///   - pagesPerStep: pages per step; `onProgress` is called after each.
    ///   - onProgress: pages remaining and total after each step.
    /// - Returns: the verification of the copy, under `destination`.
    /// - Throws: `WarehouseError` for `sourcePath` (`.noSuchFile`, `.notADatabase`, `.database`,
    ///   `.locked` past a minute of busy steps) or for `destination` (`.destinationExists`,
    ///   `.verificationFailed`, `.fileOperation` — `flock` when another backup is writing the same
    ///   `.partial` —, the directory's codes); no file is left then.
    public static func backup(
        from sourcePath: String, to destination: String, pagesPerStep: Int = backupPagesPerStep,
        onProgress: ((_ remaining: Int, _ total: Int) -> Void)? = nil
    ) throws(WarehouseError) -> BackupReport {
        guard access(sourcePath, F_OK) == 0 else { throw WarehouseError(.noSuchFile, path: sourcePath) }
        guard access(destination, F_OK) != 0 else {
            throw WarehouseError(.destinationExists(destination), path: sourcePath)
        }
        try prepareDirectory(for: destination)
        let partialPath = destination + BackupSeries.partialSuffix
        guard let partial = try PartialFile.create(partialPath) else {
            throw WarehouseError(.fileOperation("flock", file: partialPath, errno: Errno(rawValue: EWOULDBLOCK)), path: sourcePath)
        }
        return try copyVerifyAndLink(from: sourcePath, partial: partial, pagesPerStep: pagesPerStep, onProgress: onProgress) {
            $0 == 0 ? destination : nil
        }
    }

    /// Copies the database at `sourcePath` into a new member of `series`, named for
    /// `milliseconds` (Unix, UTC; now by default): `NAME`, or `NAME-1`, `NAME-2`, … (see
    /// `BackupSeries.name(atMilliseconds:attempt:)`), from `firstAttempt` on — so it sorts after
    /// the members of its millisecond — to the first name free when the verified copy is linked
    /// into place. Never skipped because a name is taken, never overwriting one: `link(2)` fails
    /// with `EEXIST` on a taken name, and the next is tried. Otherwise as `backup(from:to:)`; the
    /// `.partial` is that of the first name free when the copy began.
    /// - Returns: the verification of the copy, under its name.
    /// - Throws: as `backup(from:to:)`; `.destinationExists` only after 10,000 names taken.
    public static func backup(
        from sourcePath: String, into series: BackupSeries, atMilliseconds milliseconds: Int64? = nil,
        pagesPerStep: Int = backupPagesPerStep, onProgress: ((_ remaining: Int, _ total: Int) -> Void)? = nil
    ) throws(WarehouseError) -> BackupReport {
        guard access(sourcePath, F_OK) == 0 else { throw WarehouseError(.noSuchFile, path: sourcePath) }
        let time = milliseconds ?? BackupSeries.nowMilliseconds()
        func candidate(_ attempt: Int) -> String { series.path(of: series.name(atMilliseconds: time, attempt: attempt)) }
        try prepareDirectory(for: candidate(0))
        var first = try series.firstAttempt(atMilliseconds: time)
        let end = first + 10_000
        var partial: PartialFile?
        while first < end, partial == nil {
            // A taken name, or one whose `.partial` another backup is writing: the next one.
            if access(candidate(first), F_OK) != 0 {
                partial = try PartialFile.create(candidate(first) + BackupSeries.partialSuffix)
            }
            if partial == nil { first += 1 }
        }
        guard let partial else { throw WarehouseError(.destinationExists(candidate(end - 1)), path: sourcePath) }
        return try copyVerifyAndLink(from: sourcePath, partial: partial, pagesPerStep: pagesPerStep, onProgress: onProgress) {
            first + $0 < end ? candidate(first + $0) : nil
        }
    }

    /// Checks the file at `path` without modifying it (opened read-only): `PRAGMA
    /// integrity_check` — the b-trees, and every index against its table, which `quick_check`
    /// skips —, every warehouse table present with the shape `init` expects, no unknown
    /// migration, a checkpoint that decodes; then counts the rows, all in one read transaction.
    /// It reads the whole file: about 1.5 s at a million fact rows and as many predictions,
    /// 1.4 × `quick_check` (docs/BENCHMARKS.md).
    /// - Throws: `WarehouseError`: `.noSuchFile`, `.notADatabase`, `.verificationFailed`
    ///   (integrity_check's first findings on one line, a corrupt page met while counting, a
    ///   missing table), `.unexpectedShape`, `.unknownMigration`, `.badCheckpoint`, `.database`.
    public static func verify(_ path: String) throws(WarehouseError) -> BackupReport {
        guard access(path, F_OK) == 0 else { throw WarehouseError(.noSuchFile, path: path) }
        let db = try sqlite(path) { () throws(DatabaseError) in try Database(readOnlyPath: path, busyTimeout: .seconds(5)) }
        return try db.transaction(.deferred, wrapping: { WarehouseError($0, path: path) }) { () throws(WarehouseError) in
            let findings = try corruptionAsFailure(path) { () throws(DatabaseError) -> [String] in
                let check = try db.prepare("PRAGMA integrity_check(5)")
                var findings: [String] = []
                while try check.step() { findings.append(check.string(at: 0)) }
                return findings
            }
            guard findings == ["ok"] else {
                // A finding may span lines (`*** in database main ***` then the page): one line.
                let line = findings.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") }.joined(separator: "; ")
                throw WarehouseError(.verificationFailed("integrity_check: " + line), path: path)
            }
            let applied = try verifyExisting(db)
            let tables = try sqlite(path) { () throws(DatabaseError) -> Set<String> in
                let query = try db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
                var names: Set<String> = []
                while try query.step() { names.insert(query.string(at: 0)) }
                return names
            }
            // A table added by a later migration is required once that migration is recorded:
            // a backup taken before it is still a warehouse (opening it migrates).
            for shape in expectedShapes(applied: applied) where !tables.contains(shape.table) {
                guard shape.addedBy.map(applied.contains) ?? true else { continue }
                throw WarehouseError(.verificationFailed("table '\(shape.table)' is missing"), path: path)
            }
            return try corruptionAsFailure(path) { () throws(DatabaseError) -> BackupReport in
                func integer(_ sql: String) throws(DatabaseError) -> Int64 {
                    let query = try db.prepare(sql)
                    _ = try query.step()
                    return query.int64(at: 0)
                }
                return BackupReport(
                    path: path, pages: Int(try integer("PRAGMA page_count")),
                    factRows: try integer("SELECT count(*) FROM fact_telemetry_features"),
                    predictionRows: try integer("SELECT count(*) FROM ai_telemetry_predictions"),
                    models: Int(try integer("SELECT count(*) FROM ml_models")), integrity: "ok")
            }
        }
    }

    /// The name of a backup taken at `seconds` (Unix, UTC): `PREFIX-YYYYMMDD-HHMMSS.sqlite`, the
    /// default name of `cidp backup`'s copies (an operator's, never rotated); they sort in time order.
    public static func backupFileName(prefix: String, at seconds: Int64) -> String {
        // `YYYY-MM-DD HH:MM:SS` → `YYYYMMDD-HHMMSS`.
        let stamp = UTCTimestamp.string(seconds).filter { $0 != "-" && $0 != ":" }.replacingOccurrences(of: " ", with: "-")
        return "\(prefix)-\(stamp).sqlite"
    }

    // MARK: Steps

    /// The online copy itself, into `partial`; leaves it in `journal_mode=DELETE`.
    private static func copyPages(
        from sourcePath: String, to partial: String, pagesPerStep: Int,
        onProgress: ((_ remaining: Int, _ total: Int) -> Void)?
    ) throws(WarehouseError) {
        let source = try sqlite(sourcePath) { () throws(DatabaseError) in
            try Database(readOnlyPath: sourcePath, busyTimeout: .seconds(5))
        }
        let copy = try sqlite(partial) { () throws(DatabaseError) in try Database(path: partial) }
        // The snapshot: a read transaction begins at its first read and lasts until COMMIT.
        try sqlite(sourcePath) { () throws(DatabaseError) in
            try source.execute("BEGIN DEFERRED; SELECT count(*) FROM sqlite_schema")
        }
        defer { _ = try? source.execute("COMMIT") }
        guard let backup = sqlite3_backup_init(copy.handle, "main", source.handle, "main") else {
            throw WarehouseError(.database(copy.error(code: sqlite3_extended_errcode(copy.handle), sql: nil)), path: partial)
        }
        let clock = ContinuousClock()
        var busySince: ContinuousClock.Instant?
        var attempt = 0
        var code: Int32 = SQLITE_OK
        while code == SQLITE_OK || code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED {
            code = sqlite3_backup_step(backup, Int32(clamping: pagesPerStep))
            switch code & 0xFF {
            case SQLITE_OK, SQLITE_DONE:
                busySince = nil
                attempt = 0
                onProgress?(Int(sqlite3_backup_remaining(backup)), Int(sqlite3_backup_pagecount(backup)))
            case SQLITE_BUSY, SQLITE_LOCKED:
                let since = busySince ?? clock.now
                busySince = since
                let waited = since.duration(to: clock.now)
                guard waited < backupBusyDeadline else {
                    sqlite3_backup_finish(backup)
                    throw WarehouseError(.locked(waited: waited, deadline: backupBusyDeadline), path: sourcePath)
                }
                attempt += 1
                Posix.sleep(for: .milliseconds(min(250, 10 * attempt)))
            default:
                break
            }
        }
        // finish returns the step's error, if any, and releases the copy's lock either way.
        let finished = sqlite3_backup_finish(backup)
        guard code == SQLITE_DONE, finished == SQLITE_OK else {
            let failure = code == SQLITE_DONE ? finished : code
            throw WarehouseError(DatabaseError(
                resultCode: failure, message: String(cString: sqlite3_errstr(failure)),
                sql: "sqlite3_backup_step", path: sourcePath), path: sourcePath)
        }
        // The pages carry the source's WAL flag; a backup is better one file, without `-wal`/`-shm`.
        try sqlite(partial) { () throws(DatabaseError) in try copy.execute("PRAGMA journal_mode=DELETE") }
    }

    /// The copy into `partial`, its verification, and its link under the first free name of
    /// `names` (0, 1, … until nil). Any failure removes the `.partial`.
    private static func copyVerifyAndLink(
        from sourcePath: String, partial: PartialFile, pagesPerStep: Int,
        onProgress: ((_ remaining: Int, _ total: Int) -> Void)?, names: (Int) -> String?
    ) throws(WarehouseError) -> BackupReport {
        let intended = names(0) ?? partial.path
        do throws(WarehouseError) {
            try copyPages(from: sourcePath, to: partial.path, pagesPerStep: max(1, pagesPerStep), onProgress: onProgress)
            var report: BackupReport
            do {
                report = try verify(partial.path)
            } catch {
                throw WarehouseError(error.code, path: intended)
            }
            report.path = try linkIntoPlace(partial, names: names, source: sourcePath)
            return report
        } catch {
            partial.remove()
            throw error
        }
    }

    /// Fsyncs `partial`, links it to the first name of `names` not taken (`link(2)` refuses a
    /// taken one), removes the `.partial` name and fsyncs the directory.
    /// - Returns: the name it got.
    private static func linkIntoPlace(_ partial: PartialFile, names: (Int) -> String?, source: String) throws(WarehouseError) -> String {
        try syncFile(partial.path, directory: false)
        var index = 0
        while let destination = names(index) {
            index += 1
            // link(2), unlike rename(2), fails with EEXIST: a file that appeared meanwhile is kept.
            if link(partial.path, destination) == 0 {
                partial.remove()
            } else {
                let failure = errno
                if failure == EEXIST { continue }
                // A file system without hard links: check, then rename (a narrow race, documented).
                guard failure == EPERM || failure == EOPNOTSUPP || failure == EXDEV else {
                    throw WarehouseError(.fileOperation("link", file: destination, errno: Errno(rawValue: failure)), path: source)
                }
                guard access(destination, F_OK) != 0 else { continue }
                guard rename(partial.path, destination) == 0 else {
                    throw WarehouseError(.fileOperation("rename", file: destination, errno: .current), path: source)
                }
            }
            try syncFile(parentDirectory(of: destination), directory: true)
            return destination
        }
        throw WarehouseError(.destinationExists(names(0) ?? partial.path), path: source)
    }

    /// Deletes `file` if it exists. C: `unlink(2)`.
    /// - Throws: `WarehouseError.Code.fileOperation` for any failure but ENOENT.
    static func removeIfPresent(_ file: String) throws(WarehouseError) {
        guard unlink(file) == 0 || errno == ENOENT else {
            throw WarehouseError(.fileOperation("unlink", file: file, errno: .current), path: file)
        }
    }

    /// Flushes a file or a directory (its entries) to disk. C: `open(2)`, `fsync(2)`.
    static func syncFile(_ path: String, directory: Bool) throws(WarehouseError) {
        let fd: FileDescriptor
        do throws(Errno) { fd = try Posix.open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0)) } catch {
            throw WarehouseError(.fileOperation("open", file: path, errno: error), path: path)
        }
        defer { Posix.close(fd) }
        do throws(Errno) { try Posix.synchronize(fd) } catch {
            throw WarehouseError(.fileOperation("fsync", file: path, errno: error), path: path)
        }
    }

    /// The directory part of `path` (`.` for a bare name).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Runs SQLite calls; a corrupt page (`SQLITE_CORRUPT`) becomes `.verificationFailed`.
    private static func corruptionAsFailure<T>(_ path: String, _ body: () throws(DatabaseError) -> T) throws(WarehouseError) -> T {
        do {
            return try body()
        } catch where error.primaryCode == SQLITE_CORRUPT {
            throw WarehouseError(.verificationFailed(error.message), path: path)
        } catch {
            throw WarehouseError(error, path: path)
        }
    }
}
