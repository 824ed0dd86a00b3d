import Posix
import Glibc

/// The `.partial` file a backup writes before its verified copy is linked into place: created
/// exclusively and held under an exclusive `flock(2)` from its creation to its removal, so a
/// `.partial` that another process can lock is stale — left by a backup that was killed — and
/// may be removed by anyone (`BackupSeries.removeStalePartials`), while one being written never is.
///
/// `flock` locks are separate from the POSIX record locks SQLite takes on the same file (Linux).
/// Closing any descriptor of a file drops this process's POSIX locks on it, so the descriptor is
/// closed only once SQLite's connections to the file are (the owner keeps the `PartialFile`
/// alive across them).
final class PartialFile {
    /// The `.partial` file.
    let path: String
    /// The descriptor holding the lock.
    private let fd: FileDescriptor

    private init(path: String, fd: FileDescriptor) {
        self.path = path
        self.fd = fd
    }

    deinit { Posix.close(fd) }

    /// Creates `path` empty (an empty file is an empty SQLite database) and locks it. A stale
    /// file at that name is removed first. C: `open(O_CREAT|O_EXCL)`, `flock(LOCK_EX)`.
    /// - Returns: nil when a live backup is writing a `.partial` of that name.
    /// - Throws: `WarehouseError.Code.fileOperation` naming the call and the file.
    static func create(_ path: String) throws(WarehouseError) -> PartialFile? {
        for _ in 0..<8 {
            let fd: FileDescriptor
            do throws(Errno) { fd = try Posix.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode: 0o644) } catch {
                guard error.rawValue == EEXIST else { throw WarehouseError(.fileOperation("open", file: path, errno: error), path: path) }
                if try removeIfStale(path) == .inUse { return nil }
                continue
            }
            // Blocking: a cleaner that opened the new file before this lock holds it only while it
            // checks and unlinks; the name is then checked to still be this file.
            do throws(Errno) { try Posix.lockExclusively(fd, wait: true) } catch {
                Posix.close(fd)
                throw WarehouseError(.fileOperation("flock", file: path, errno: error), path: path)
            }
            if isSameFile(fd, path) { return PartialFile(path: path, fd: fd) }
            Posix.close(fd)  // removed by a cleaner between open and flock: make it again
        }
        throw WarehouseError(.fileOperation("open", file: path, errno: Errno(rawValue: EAGAIN)), path: path)
    }

    /// Deletes `path`, then its SQLite companions (`-journal`, `-wal`, `-shm`), unless a backup
    /// holds its lock. The name keeps the locked file while the companions go, so no new backup
    /// can take the name (and make new companions) meanwhile. C: `flock(LOCK_EX|LOCK_NB)`, `unlink`.
    /// - Throws: `WarehouseError.Code.fileOperation` for a file that cannot be opened or deleted.
    static func removeIfStale(_ path: String) throws(WarehouseError) -> Staleness {
        let fd: FileDescriptor
        do throws(Errno) { fd = try Posix.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) } catch {
            if error.rawValue == ENOENT { return .missing }
            throw WarehouseError(.fileOperation("open", file: path, errno: error), path: path)
        }
        defer { Posix.close(fd) }
        do throws(Errno) { try Posix.lockExclusively(fd, wait: false) } catch {
            if error.rawValue == EWOULDBLOCK { return .inUse }
            throw WarehouseError(.fileOperation("flock", file: path, errno: error), path: path)
        }
        // Replaced since it was opened (another cleaner removed it and a backup made a new one).
        guard isSameFile(fd, path) else { return .inUse }
        for companion in BackupSeries.partialCompanions { try Warehouse.removeIfPresent(path + companion) }
        try Warehouse.removeIfPresent(path)
        return .removed
    }

    /// What `removeIfStale` found.
    enum Staleness {
        /// It was stale and is gone, with its companions.
        case removed
        /// There was no such file.
        case missing
        /// A backup holds it (or a new one took the name meanwhile): left alone.
        case inUse
    }

    /// Removes the file's name and any SQLite companion left beside it (the copy was linked into
    /// place, or failed), unless the name is no longer this file (renamed into place where hard
    /// links are unsupported: it may be another backup's by now). The lock is released when the
    /// object goes.
    func remove() {
        guard Self.isSameFile(fd, path) else { return }
        for companion in BackupSeries.partialCompanions { unlink(path + companion) }
        unlink(path)
    }

    /// Whether `path` names the file open at `fd`. C: `fstat`, `stat`.
    private static func isSameFile(_ fd: FileDescriptor, _ path: String) -> Bool {
        var named = stat()
        guard let open = try? Posix.status(of: fd), stat(path, &named) == 0 else { return false }
        return open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }
}
