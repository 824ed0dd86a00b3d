#if canImport(Glibc)
import Glibc
#endif
import Posix

/// The run directory of one supervisor (`run/` by default): its lock file and control socket.
public struct RunDirectory: Sendable {
    public let path: String
    public var socketPath: String { path + "/cidp.sock" }
    public var lockPath: String { path + "/cidp.lock" }

    public init(path: String) {
        self.path = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
    }

    /// Holds the run directory's lock for as long as it lives (flock on `cidp.lock`).
    public final class Lock: @unchecked Sendable {
        let file: LockFile
        init(file: LockFile) { self.file = file }

        /// Writes our pid into the lock file, for a `cidp up` or `cidp restore` refused it.
        public func announce() { file.announce("\(getpid())\n") }

        /// The descriptor holding the lock, and the lock taken over after a re-exec of the root.
        public var descriptor: FileDescriptor { file.descriptor }
        public static func adopt(path: String, descriptor: FileDescriptor) -> Lock {
            Lock(file: .adopt(path: path, descriptor: descriptor))
        }
    }

    /// The longest socket path `bind` takes (`sun_path`, less its terminating NUL).
    static let maxSocketPathBytes = 107

    /// Takes the run directory: creates it (mode 0700, recorded in `created`) if missing, refuses
    /// one that another user could plant files in, and takes its lock. Writes nothing into the
    /// lock file: `Lock.announce` does once the start is committed, so a start refused later
    /// leaves it as it was.
    /// - Throws: `SupervisorError.alreadyRunning` naming the holder's pid when another supervisor
    ///   holds it; `.runDirectory` for a directory or lock file that cannot be used safely, or a
    ///   socket path occupied by something that is not a socket (never removed).
    public func acquire(created: inout CreatedPaths) throws(SupervisorError) -> Lock {
        do throws(CreatedPaths.PathError) {
            try created.makeDirectories(path, mode: 0o700)
        } catch {
            throw SupervisorError(.runDirectory, path: error.path, error.errno)
        }
        var status = stat()
        guard lstat(path, &status) == 0 else { throw SupervisorError(.runDirectory, path: path, Errno.current) }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw SupervisorError(.runDirectory, path: path, detail: "not a directory (a symbolic link is not followed)")
        }
        guard status.st_uid == geteuid() else {
            throw SupervisorError(.runDirectory, path: path,
                                  detail: "owned by uid \(status.st_uid), not by this user (uid \(geteuid()))")
        }
        guard status.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw SupervisorError(.runDirectory, path: path, detail: "writable by other users (mode "
                + String(status.st_mode & 0o777, radix: 8) + "); use a directory only this user can write, e.g. chmod 700")
        }
        guard socketPath.utf8.count <= Self.maxSocketPathBytes else {
            throw SupervisorError(.runDirectory, path: socketPath,
                                  detail: "longer than the \(Self.maxSocketPathBytes) bytes a socket path may have")
        }
        let file: LockFile
        do throws(LockFile.Failure) {
            file = try LockFile.acquire(lockPath, created: &created)
        } catch {
            switch error {
            case .held(let holder):
                throw SupervisorError(.alreadyRunning, path: path, detail: holder.isEmpty ? "unknown pid" : "pid \(holder)")
            case .unsafe(let why):
                throw SupervisorError(.runDirectory, path: lockPath, detail: why)
            case .io(let errno):
                throw SupervisorError(.runDirectory, path: lockPath, errno)
            }
        }
        // With the lock held, a socket left here is a dead supervisor's, to be replaced; anything
        // else at that path is not ours to delete.
        if lstat(socketPath, &status) == 0, status.st_mode & S_IFMT != S_IFSOCK {
            throw SupervisorError(.runDirectory, path: socketPath,
                                  detail: "exists and is not a socket; it is left as it is: move it away")
        }
        return Lock(file: file)
    }

    /// Takes the run directory and writes our pid into its lock at once (`cidp restore`, which
    /// has nothing to undo). - Throws: as `acquire(created:)`.
    public func acquire() throws(SupervisorError) -> Lock {
        var created = CreatedPaths()
        let lock = try acquire(created: &created)
        lock.announce()
        return lock
    }
}
