import Posix
import Glibc

/// What `Warehouse.restore` did.
public struct RestoreReport: Equatable, Sendable {
    /// The verification of the restored warehouse (its `path` is the warehouse's).
    public var restored: BackupReport
    /// Where the replaced warehouse was kept (its `-wal` beside it, if it had one); nil when
    /// there was no warehouse to replace.
    public var safetyCopy: String?
    /// The older safety copies deleted to keep their number bounded (each with its `-wal`).
    public var deletedSafetyCopies: [String] = []
    /// Why that deletion failed, if it did: the restore itself is done by then.
    public var rotationFailure: WarehouseError?
}

extension Warehouse {
    /// How many copies of replaced warehouses `restore(_:over:keepingSafetyCopies:)` keeps by default.
    public static let safetyCopiesKept = 3

    /// Replaces the warehouse at `databasePath` with the backup at `backupPath`, keeping the
    /// replaced warehouse as a new member of `BackupSeries(safetyCopiesOf: databasePath)`
    /// (`NAME.before-restore-YYYYMMDD-HHMMSS-mmm`, or with `-N` when that name is taken: two
    /// restores within one millisecond still keep both), then deleting the older members but the
    /// newest `keep` (with their `-wal`). Otherwise as `restore(_:over:safetyCopy:)`.
    /// - Throws: as `restore(_:over:safetyCopy:)`. A failure to delete older copies does not
    ///   undo the restore: it is in the report's `rotationFailure`.
    public static func restore(
        _ backupPath: String, over databasePath: String, keepingSafetyCopies keep: Int = safetyCopiesKept,
        atMilliseconds milliseconds: Int64? = nil
    ) throws(WarehouseError) -> RestoreReport {
        precondition(keep >= 1, "restore: keep \(keep) safety copies (at least the one it makes)")
        let series = BackupSeries(safetyCopiesOf: databasePath)
        let time = milliseconds ?? BackupSeries.nowMilliseconds()
        var report = try restore(backupPath, over: databasePath) { () throws(WarehouseError) -> String in
            let first = try series.firstAttempt(atMilliseconds: time)
            for attempt in first..<(first + 10_000) {
                let candidate = series.path(of: series.name(atMilliseconds: time, attempt: attempt))
                do throws(WarehouseError) {
                    try linkOrCopy(databasePath, to: candidate)
                    return candidate
                } catch where error.code.isFileExists {
                    continue
                }
            }
            throw WarehouseError(.destinationExists(series.path(of: series.name(atMilliseconds: time))), path: databasePath)
        }
        guard let kept = report.safetyCopy else { return report }
        do {
            report.deletedSafetyCopies = try series.rotate(
                keep: keep, protecting: [kept.split(separator: "/").last.map(String.init) ?? kept])
        } catch {
            report.rotationFailure = error
        }
        return report
    }

    /// Replaces the warehouse at `databasePath` with the backup at `backupPath`. The caller makes
    /// sure nothing has the warehouse open (`cidp restore` holds the run directory's lock).
    ///
    /// 1. Verifies the backup (`verify`: `PRAGMA integrity_check`, the tables); a bad one changes nothing.
    /// 2. Copies it with the online backup to `databasePath + ".restoring"` (verified again, fsynced).
    /// 3. Keeps the current warehouse as `safetyCopy` by hard links (no copy of a large file;
    ///    a plain copy where links are not supported), its `-wal` as `safetyCopy + "-wal"`, so the
    ///    commits not yet checkpointed are kept too, and a corrupt warehouse can be kept as well.
    /// 4. Removes the warehouse's `-wal` and `-shm` (a stale WAL would otherwise be replayed onto
    ///    the restored pages), then renames the copy over `databasePath` and fsyncs the directory.
    ///
    /// A crash between 4's removal and rename leaves the old warehouse without its WAL; the
    /// safety copy still has both.
    /// - Returns: the report of the copy verified in 2, under `databasePath` (a rename changes no page).
    /// - Throws: `WarehouseError` from `verify` or `backup`, `.destinationExists` for an existing
    ///   `safetyCopy`, `.fileOperation`; the warehouse is unchanged unless the failure is in step 4.
    public static func restore(
        _ backupPath: String, over databasePath: String, safetyCopy: String
    ) throws(WarehouseError) -> RestoreReport {
        try restore(backupPath, over: databasePath) { () throws(WarehouseError) -> String in
            guard access(safetyCopy, F_OK) != 0 else {
                throw WarehouseError(.destinationExists(safetyCopy), path: databasePath)
            }
            try linkOrCopy(databasePath, to: safetyCopy)
            return safetyCopy
        }
    }

    /// Steps 1–4; `keep` gives the warehouse file its second name and returns it (step 3's first half).
    private static func restore(
        _ backupPath: String, over databasePath: String, keep: () throws(WarehouseError) -> String
    ) throws(WarehouseError) -> RestoreReport {
        _ = try verify(backupPath)
        let restoring = databasePath + ".restoring"
        try removeIfPresent(restoring)
        var restored = try backup(from: backupPath, to: restoring)
        var kept: String?
        do throws(WarehouseError) {
            if access(databasePath, F_OK) == 0 {
                let safetyCopy = try keep()
                kept = safetyCopy
                if access(databasePath + "-wal", F_OK) == 0 {
                    // A `-wal` left under this name by an earlier copy deleted without it is stale.
                    try removeIfPresent(safetyCopy + "-wal")
                    try linkOrCopy(databasePath + "-wal", to: safetyCopy + "-wal")
                }
                try syncFile(parentDirectory(of: safetyCopy), directory: true)
            }
            try removeIfPresent(databasePath + "-wal")
            try removeIfPresent(databasePath + "-shm")
            guard rename(restoring, databasePath) == 0 else {
                throw WarehouseError(.fileOperation("rename", file: databasePath, errno: .current), path: databasePath)
            }
            try syncFile(parentDirectory(of: databasePath), directory: true)
        } catch {
            unlink(restoring)
            throw error
        }
        restored.path = databasePath
        return RestoreReport(restored: restored, safetyCopy: kept)
    }

    /// Makes `destination` a second name of `source` (C: `link(2)`), or, on a file system
    /// without hard links, a copy of it, fsynced.
    /// - Throws: `WarehouseError.Code.fileOperation`.
    private static func linkOrCopy(_ source: String, to destination: String) throws(WarehouseError) {
        if link(source, destination) == 0 { return }
        let failure = errno
        guard failure == EPERM || failure == EOPNOTSUPP || failure == EXDEV else {
            throw WarehouseError(.fileOperation("link", file: destination, errno: Errno(rawValue: failure)), path: source)
        }
        let input: FileDescriptor
        do throws(Errno) { input = try Posix.open(source, O_RDONLY | O_CLOEXEC) } catch {
            throw WarehouseError(.fileOperation("open", file: source, errno: error), path: source)
        }
        defer { Posix.close(input) }
        let output: FileDescriptor
        do throws(Errno) { output = try Posix.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o644) } catch {
            throw WarehouseError(.fileOperation("open", file: destination, errno: error), path: source)
        }
        defer { Posix.close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count: Int?
            do throws(Errno) { count = try Posix.readAvailable(input, into: &buffer) } catch {
                throw WarehouseError(.fileOperation("read", file: source, errno: error), path: source)
            }
            guard let count else { break }
            if let failure = buffer.withUnsafeBytes({ Posix.writeFully(output, UnsafeRawBufferPointer(rebasing: $0[..<count])).error }) {
                throw WarehouseError(.fileOperation("write", file: destination, errno: failure), path: source)
            }
        }
        do throws(Errno) { try Posix.synchronize(output) } catch {
            throw WarehouseError(.fileOperation("fsync", file: destination, errno: error), path: source)
        }
    }
}

extension WarehouseError.Code {
    /// Whether this is a file operation that failed because the name exists (`EEXIST`).
    var isFileExists: Bool {
        if case .fileOperation(_, _, let errno) = self { return errno.rawValue == EEXIST }
        return false
    }
}
