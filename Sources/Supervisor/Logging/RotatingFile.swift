import Posix
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An append-only log file rotated by size: `cidp.log` is live, `cidp.log.1` the newest rotated
/// file, `cidp.log.<keep>` the oldest kept.
///
/// Safe to share between threads (one lock around every write and rotation). Writing never
/// throws: the supervisor must not die because its log disk is full, so the first failure is
/// reported once on stderr and later lines are dropped until the file works again.
public final class RotatingFile: @unchecked Sendable {
    /// The live file's path, `directory/baseName`.
    public let path: String
    public let maxBytes: Int
    public let keep: Int

    private let lock = NSLock()
    // Guarded by `lock`.
    private var fd: Int32 = -1
    private var size = 0
    private var isClosed = false
    private var hasReportedFailure = false

    /// Opens (creating it and its directory if missing) `directory/baseName` for appending.
    /// C: `mkdir(0750)`, `open(O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)`.
    /// - Parameters:
    ///   - maxBytes: a line that would take the live file past this size is written to a fresh file.
    ///   - keep: how many rotated files to keep besides the live one; 0 keeps none.
    /// - Throws: `LoggingError` `.cannotCreateDirectory` or `.cannotOpenFile`.
    public init(directory: String, baseName: String = "cidp.log", maxBytes: Int, keep: Int) throws {
        precondition(maxBytes > 0 && keep >= 0, "maxBytes must be positive and keep non-negative")
        self.path = directory.isEmpty ? baseName : (directory.hasSuffix("/") ? directory : directory + "/") + baseName
        self.maxBytes = maxBytes
        self.keep = keep
        if !directory.isEmpty {
            try Self.createDirectories(directory)
        }
        switch Self.open(path) {
        case .success(let opened):
            fd = opened.fd
            size = opened.size
        case .failure(let failure):
            throw LoggingError(code: .cannotOpenFile, subject: path, errno: failure.errno)
        }
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Appends `line` and a newline with one `write` where possible (partial writes and `EINTR` are
    /// retried), first rotating if the line would take a non-empty file past `maxBytes`. A line
    /// longer than `maxBytes` is still written whole, alone in its file. Does nothing after ``close()``.
    public func write(line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { return }
        if fd < 0 {
            // An earlier rotation or write failed; try again so logging resumes once the cause is fixed.
            guard reopen() else { return }
        }
        if size > 0 && size + bytes.count > maxBytes {
            rotate()
            guard fd >= 0 else { return }
        }
        let written = Self.writeAll(fd: fd, bytes)
        size += written.count
        if let failure = written.error {
            report("Cannot write log file '\(path)'", errno: failure)
        }
    }

    /// Closes the live file; later writes are dropped.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        isClosed = true
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    // MARK: - Rotation (caller holds the lock)

    /// `.keep-1` → `.keep`, …, `.1` → `.2`, live → `.1`, then a fresh live file. `rename` replaces
    /// its target, so the oldest is dropped without a separate unlink; with `keep == 0` the live
    /// file is simply removed.
    private func rotate() {
        _ = Glibc.close(fd)
        fd = -1
        if keep == 0 {
            if unlink(path) != 0 && errno != ENOENT { report("Cannot remove log file '\(path)'", errno: .current) }
        } else {
            var generation = keep - 1
            while generation >= 1 {
                let source = "\(path).\(generation)"
                if rename(source, "\(path).\(generation + 1)") != 0 && errno != ENOENT {
                    report("Cannot rotate log file '\(source)'", errno: .current)
                }
                generation -= 1
            }
            if rename(path, "\(path).1") != 0 && errno != ENOENT {
                report("Cannot rotate log file '\(path)'", errno: .current)
            }
        }
        _ = reopen()
    }

    private func reopen() -> Bool {
        switch Self.open(path) {
        case .success(let opened):
            fd = opened.fd
            size = opened.size
            return true
        case .failure(let failure):
            report("Cannot open log file '\(path)'", errno: failure.errno)
            return false
        }
    }

    /// Tells stderr about the first failure only: a full disk would otherwise double every line.
    private func report(_ what: String, errno code: Errno) {
        guard !hasReportedFailure else { return }
        hasReportedFailure = true
        let message = "cidp: \(what): \(code); further log file errors are not reported\n"
        _ = Self.writeAll(fd: 2, Array(message.utf8))
    }

    // MARK: - System calls

    private struct Opened {
        var fd: Int32
        var size: Int
    }

    private struct OpenFailure: Error {
        var errno: Errno
    }

    private static func open(_ path: String) -> Result<Opened, OpenFailure> {
        var fd: Int32
        repeat {
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else { return .failure(OpenFailure(errno: .current)) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = Errno.current
            _ = Glibc.close(fd)
            return .failure(OpenFailure(errno: code))
        }
        return .success(Opened(fd: fd, size: Int(status.st_size)))
    }

    /// `mkdir -p` with mode 0750; an existing directory is fine.
    private static func createDirectories(_ directory: String) throws {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw LoggingError(code: .cannotCreateDirectory, subject: prefix, errno: .current)
            }
            prefix += "/"
        }
        var status = stat()
        guard stat(directory, &status) == 0 else {
            throw LoggingError(code: .cannotCreateDirectory, subject: directory, errno: .current)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw LoggingError(code: .cannotCreateDirectory, subject: directory, errno: Errno(rawValue: ENOTDIR))
        }
    }

    /// Writes every byte, retrying `EINTR` and continuing after partial writes.
    /// Returns how many bytes went out and the error that stopped it, if any.
    static func writeAll(fd: Int32, _ bytes: [UInt8]) -> (count: Int, error: Errno?) {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return (0, nil) }
            var offset = 0
            while offset < buffer.count {
                let result = Glibc.write(fd, base + offset, buffer.count - offset)
                if result > 0 {
                    offset += result
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    return (offset, result < 0 ? .current : Errno(rawValue: EIO))
                }
            }
            return (offset, nil)
        }
    }
}
