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
    private var fd: FileDescriptor?
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
        if let fd { Posix.close(fd) }
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
        if fd == nil {
            // An earlier rotation or write failed; try again so logging resumes once the cause is fixed.
            guard reopen() else { return }
        }
        if size > 0 && size + bytes.count > maxBytes {
            rotate()
        }
        guard let fd else { return }
        let written = Posix.writeFully(fd, bytes)
        size += written.written
        if let failure = written.error {
            report("Cannot write log file '\(path)'", errno: failure)
        }
    }

    /// Closes the live file; later writes are dropped.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        isClosed = true
        if let fd { Posix.close(fd) }
        fd = nil
    }

    // MARK: - Rotation (caller holds the lock)

    /// `.keep-1` → `.keep`, …, `.1` → `.2`, live → `.1`, then a fresh live file. `rename` replaces
    /// its target, so the oldest is dropped without a separate unlink; with `keep == 0` the live
    /// file is simply removed.
    private func rotate() {
        if let fd { Posix.close(fd) }
        fd = nil
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
        Posix.writeFully(.standardError, Array(message.utf8))
    }

    // MARK: - System calls

    private struct Opened {
        var fd: FileDescriptor
        var size: Int
    }

    private struct OpenFailure: Error {
        var errno: Errno
    }

    private static func open(_ path: String) -> Result<Opened, OpenFailure> {
        let fd: FileDescriptor
        do throws(Errno) { fd = try Posix.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o640) } catch {
            return .failure(OpenFailure(errno: error))
        }
        do throws(Errno) {
            return .success(Opened(fd: fd, size: Int(try Posix.status(of: fd).st_size)))
        } catch {
            Posix.close(fd)
            return .failure(OpenFailure(errno: error))
        }
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
}
