#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Process images, wait statuses, memory files and terminals.
extension Posix {
    /// How `waitpid` says a process ended: its exit code, or the signal that killed it and
    /// whether it dumped core. C: `WIFEXITED`, `WEXITSTATUS`, `WTERMSIG`, `WCOREDUMP`.
    public static func decodeWaitStatus(_ status: Int32) -> (exitCode: Int32?, signal: Int32, coreDumped: Bool) {
        if cshims_wifexited(status) != 0 { return (cshims_wexitstatus(status), 0, false) }
        return (nil, cshims_wtermsig(status), cshims_wcoredump(status) != 0)
    }

    /// Replaces this process's image. Returns only on failure, with its errno. C: `execve`.
    public static func execute(_ path: String, arguments: [String], environment: [String]) -> Errno {
        func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] { strings.map { strdup($0) } + [nil] }
        let argv = cStrings(arguments)
        let envp = cStrings(environment)
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        _ = Glibc.execve(path, argv, envp)
        return Errno.current
    }

    /// An anonymous memory file, inherited across exec (not close-on-exec). C: `memfd_create`.
    public static func memoryFile(named name: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingOnInterrupt { cshims_memfd(name) })
    }

    /// A terminal's size in character cells, or nil when `fd` is not a terminal.
    /// C: `ioctl(TIOCGWINSZ)`.
    public static func terminalSize(_ fd: FileDescriptor) -> (columns: Int, rows: Int)? {
        var size = winsize()
        guard ioctl(fd.rawValue, UInt(TIOCGWINSZ), &size) == 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// Sets a terminal's size, as a terminal emulator does when its window changes (the
    /// foreground process group then gets SIGWINCH). C: `ioctl(TIOCSWINSZ)`.
    public static func setTerminalSize(_ fd: FileDescriptor, columns: Int, rows: Int) throws(Errno) {
        var size = winsize(ws_row: UInt16(clamping: rows), ws_col: UInt16(clamping: columns), ws_xpixel: 0, ws_ypixel: 0)
        guard ioctl(fd.rawValue, UInt(TIOCSWINSZ), &size) == 0 else { throw .current }
    }

    /// Bytes written to a terminal it has not sent yet, or nil when `fd` is not one.
    /// C: `ioctl(TIOCOUTQ)`.
    public static func terminalPendingOutput(_ fd: FileDescriptor) -> Int? {
        var pending: Int32 = 0
        guard ioctl(fd.rawValue, UInt(TIOCOUTQ), &pending) == 0 else { return nil }
        return Int(pending)
    }

    /// Asks for `signal` when the thread that spawned this process dies. C: `prctl(PR_SET_PDEATHSIG)`.
    public static func setParentDeathSignal(_ signal: Int32) throws(Errno) {
        try retryingOnInterrupt { cshims_set_parent_death_signal(signal) }
    }
}
