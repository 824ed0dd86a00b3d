import Glibc

/// What `Warehouse.restore` did.
public struct RestoreReport: Equatable, Sendable {
    /// The verification of the restored warehouse (its `path` is the warehouse's).
    public var restored: BackupReport
    /// Where the replaced warehouse was kept (its `-wal` beside it, if it had one); nil when
    /// there was no warehouse to replace.
    public var safetyCopy: String?
}

extension Warehouse {
    /// Replaces the warehouse at `databasePath` with the backup at `backupPath`. The caller makes
    /// sure nothing has the warehouse open (`cidp restore` holds the run directory's lock).
    ///
    /// 1. Verifies the backup (`verify`); a bad one changes nothing.
    /// 2. Copies it with the online backup to `databasePath + ".restoring"` (verified, fsynced).
    /// 3. Keeps the current warehouse as `safetyCopy` by hard links (no copy of a large file;
    ///    a plain copy where links are not supported), its `-wal` as `safetyCopy + "-wal"`, so the
    ///    commits not yet checkpointed are kept too, and a corrupt warehouse can be kept as well.
    /// 4. Removes the warehouse's `-wal` and `-shm` (a stale WAL would otherwise be replayed onto
    ///    the restored pages), then renames the copy over `databasePath` and fsyncs the directory.
    ///
    /// A crash between 4's removal and rename leaves the old warehouse without its WAL; the
    /// safety copy still has both.
    /// - Throws: `WarehouseError` from `verify` or `backup`, `.destinationExists` for an existing
    ///   `safetyCopy`, `.fileOperation`; the warehouse is unchanged unless the failure is in step 4.
    public static func restore(
        _ backupPath: String, over databasePath: String, safetyCopy: String
    ) throws(WarehouseError) -> RestoreReport {
        _ = try verify(backupPath)
        let restoring = databasePath + ".restoring"
        try removeIfPresent(restoring)
        _ = try backup(from: backupPath, to: restoring)
        var kept: String?
        do throws(WarehouseError) {
            if access(databasePath, F_OK) == 0 {
                guard access(safetyCopy, F_OK) != 0 else {
                    throw WarehouseError(.destinationExists(safetyCopy), path: databasePath)
                }
                try linkOrCopy(databasePath, to: safetyCopy)
                if access(databasePath + "-wal", F_OK) == 0 {
                    try linkOrCopy(databasePath + "-wal", to: safetyCopy + "-wal")
                }
                try syncFile(parentDirectory(of: safetyCopy), directory: true)
                kept = safetyCopy
            }
            try removeIfPresent(databasePath + "-wal")
            try removeIfPresent(databasePath + "-shm")
            guard rename(restoring, databasePath) == 0 else {
                throw WarehouseError(.fileOperation("rename", file: databasePath, errno: errno), path: databasePath)
            }
            try syncFile(parentDirectory(of: databasePath), directory: true)
        } catch {
            unlink(restoring)
            throw error
        }
        var restored = try verify(databasePath)
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
            throw WarehouseError(.fileOperation("link", file: destination, errno: failure), path: source)
        }
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw WarehouseError(.fileOperation("open", file: source, errno: errno), path: source) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw WarehouseError(.fileOperation("open", file: destination, errno: errno), path: source)
        }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw WarehouseError(.fileOperation("read", file: source, errno: errno), path: source)
            }
            var written = 0
            while written < count {
                let step = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                if step < 0 {
                    if errno == EINTR { continue }
                    throw WarehouseError(.fileOperation("write", file: destination, errno: errno), path: source)
                }
                written += step
            }
        }
        guard fsync(output) == 0 else {
            throw WarehouseError(.fileOperation("fsync", file: destination, errno: errno), path: source)
        }
    }
}
