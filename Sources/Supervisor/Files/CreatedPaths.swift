#if canImport(Glibc)
import Glibc
#endif
import Posix

/// What a start has created so far — directories, lock files — so that a start refused by a
/// later check can remove exactly those and leave the file system as it found it.
public struct CreatedPaths: Sendable {
    /// In the order created.
    public private(set) var paths: [String] = []

    public init() {}

    /// Notes that `path` did not exist and was created by this start.
    public mutating func record(_ path: String) { paths.append(path) }

    /// Removes everything recorded, newest first (a directory after what was created in it), and
    /// forgets it. Used only on paths this process created: a file is unlinked, a directory
    /// removed only if empty. C: `unlink`, `rmdir`.
    public mutating func removeAll() {
        for path in paths.reversed() {
            var status = stat()
            guard lstat(path, &status) == 0 else { continue }
            if status.st_mode & S_IFMT == S_IFDIR { rmdir(path) } else { unlink(path) }
        }
        paths = []
    }

    /// Creates `path` and any missing parent directories with `mode`, recording each one created.
    /// C: `mkdir`.
    /// - Throws: `Errno` of the first `mkdir` that failed for another reason than `EEXIST`, with
    ///   the component that failed.
    public mutating func makeDirectories(_ path: String, mode: mode_t) throws(PathError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if component != ".", component != ".." {
                if mkdir(prefix, mode) == 0 {
                    record(prefix)
                } else if errno != EEXIST {
                    throw PathError(path: prefix, errno: Errno.current)
                }
            }
            prefix += "/"
        }
    }

    /// A file-system call that failed on `path`.
    public struct PathError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var errno: Errno
        public var description: String { "\(path): \(errno)" }
    }

    /// Whether `directory` exists and this process may create files in it, or, if it does not
    /// exist, whether its nearest existing ancestor is a directory it may create it in. Reads only.
    /// - Returns: nil when it can be used, else why not (one line naming the path).
    public static func problemCreatingFiles(in directory: String) -> String? {
        var candidate = directory.isEmpty ? "." : directory
        while true {
            var status = stat()
            if stat(candidate, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR else { return "'\(candidate)' is not a directory" }
                guard access(candidate, W_OK | X_OK) == 0 else { return "'\(candidate)': \(Errno.current)" }
                return nil
            }
            guard errno == ENOENT else { return "'\(candidate)': \(Errno.current)" }
            guard let slash = candidate.lastIndex(of: "/") else {
                candidate = "."
                continue
            }
            candidate = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
        }
    }
}
