#if canImport(Glibc)
import Glibc
#endif
import Posix

/// An exclusive lock on a file that says who holds it: the run directory's `cidp.lock` (one
/// supervisor per run directory) and the warehouse's `<db>.lock` (one tree per warehouse).
///
/// `flock` locks belong to the open file: the kernel releases them when the holder exits, even
/// after `kill -9`, so a lock is never stale. The file is opened with `O_NOFOLLOW` and must be a
/// regular file of this user: a symbolic link or a file another user planted there is refused,
/// never followed, truncated or written (an attack on root in a shared directory).
public final class LockFile: @unchecked Sendable {
    public let path: String
    private let fd: FileDescriptor

    private init(path: String, fd: FileDescriptor) {
        self.path = path
        self.fd = fd
    }

    deinit { Posix.close(fd) }

    /// The open descriptor holding the lock: kept open across a re-exec of the root.
    public var descriptor: FileDescriptor { fd }

    /// Takes over a lock this process already holds on `fd` (handed over across `execve`: an
    /// `flock` lock belongs to the open file, which the exec kept).
    public static func adopt(path: String, descriptor: FileDescriptor) -> LockFile {
        Posix.setCloseOnExec(descriptor, true)
        return LockFile(path: path, fd: descriptor)
    }

    /// Why a lock could not be taken.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// Another process holds it; what its file says about the holder (may be empty).
        case held(holder: String)
        /// The path is a symbolic link, not a regular file, or another user's file.
        case unsafe(String)
        /// A system call failed.
        case io(Errno)

        public var description: String {
            switch self {
            case .held(let holder): return holder.isEmpty ? "held by another process" : "held by \(holder)"
            case .unsafe(let why): return why
            case .io(let errno): return "\(errno)"
            }
        }
    }

    /// Takes the lock at `path` without waiting, creating the file (mode 0600) if it is missing and
    /// recording that in `created`. The file's contents are left as they are: `announce` writes
    /// the holder once the start is committed. C: `open(O_NOFOLLOW)`, `fstat`, `flock(LOCK_EX|LOCK_NB)`.
    /// - Throws: `Failure`.
    public static func acquire(_ path: String, created: inout CreatedPaths) throws(Failure) -> LockFile {
        // A holder that created the file may remove it again (a refused start leaves nothing
        // behind) while another process waits on the same inode: the lock won on a file no longer
        // at `path` is worth nothing, so take it again on the file that is there now.
        for _ in 0..<8 {
            var createdNow = created
            let lock = try acquireOnce(path, created: &createdNow)
            var atPath = stat()
            if lstat(path, &atPath) == 0, let held = try? Posix.status(of: lock.fd), atPath.st_dev == held.st_dev, atPath.st_ino == held.st_ino {
                created = createdNow
                return lock
            }
        }
        throw .io(Errno(rawValue: EAGAIN))
    }

    private static func acquireOnce(_ path: String, created: inout CreatedPaths) throws(Failure) -> LockFile {
        let fd: FileDescriptor
        do throws(Errno) {
            fd = try Posix.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o600)
            created.record(path)
        } catch where error.rawValue == EEXIST {
            do throws(Errno) { fd = try Posix.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC) } catch {
                if error.rawValue == ELOOP { throw .unsafe("'\(path)' is a symbolic link; a lock file is never followed") }
                throw .io(error)
            }
        } catch {
            throw .io(error)
        }
        let status: stat
        do throws(Errno) { status = try Posix.status(of: fd) } catch {
            Posix.close(fd)
            throw .io(error)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            Posix.close(fd)
            throw .unsafe("'\(path)' is not a regular file")
        }
        guard status.st_uid == geteuid() else {
            Posix.close(fd)
            throw .unsafe("'\(path)' belongs to uid \(status.st_uid), not to this user (uid \(geteuid()))")
        }
        do throws(Errno) { try Posix.lockExclusively(fd, wait: false) } catch {
            let holder = Self.contents(of: fd)
            Posix.close(fd)
            if error.rawValue == EWOULDBLOCK { throw .held(holder: holder) }
            throw .io(error)
        }
        return LockFile(path: path, fd: fd)
    }

    /// Replaces the file's contents with `text`: who holds the lock, for whoever is refused it.
    /// C: `ftruncate`, `pwrite`.
    public func announce(_ text: String) {
        let bytes = Array(text.utf8)
        try? Posix.truncate(fd, to: 0)
        _ = bytes.withUnsafeBytes { pwrite(fd.rawValue, $0.baseAddress, $0.count, 0) }
    }

    /// What the holder wrote, trimmed, newlines as "; ", at most 512 bytes, control characters as spaces.
    private static func contents(of fd: FileDescriptor) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress, 512, 0) }
        guard count > 0 else { return "" }
        let lines = String(decoding: buffer[0..<count], as: UTF8.self).split(whereSeparator: \.isNewline)
        let text = lines.map { line in
            String(String.UnicodeScalarView(line.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
        }.joined(separator: "; ")
        return text
    }
}
