#if canImport(Glibc)
import Glibc
#endif

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
        let fd: Int32
        init(fd: Int32) { self.fd = fd }
        deinit { Posix.close(fd) }
    }

    /// Creates the directory if needed and takes its exclusive lock, writing our pid into it.
    /// - Throws: `SupervisorError.alreadyRunning` naming the holder's pid when another `cidp up` holds it.
    public func acquire() throws(SupervisorError) -> Lock {
        if mkdir(path, 0o700) == -1 && errno != EEXIST {
            throw SupervisorError(.runDirectory, path: path, Errno.current)
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SupervisorError(.runDirectory, path: lockPath, Errno.current) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.readPID(fd: fd)
            Posix.close(fd)
            throw SupervisorError(.alreadyRunning, path: path,
                                  detail: holder.map { "pid \($0)" } ?? "unknown pid")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return Lock(fd: fd)
    }

    private static func readPID(fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

import Foundation
