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
        _ = cshims_execve(path, argv, envp)
        return Errno.current
    }

    /// An anonymous memory file, inherited across exec (not close-on-exec). C: `memfd_create`.
    public static func memoryFile(named name: String) throws(Errno) -> Int32 {
        try retryingOnInterrupt { cshims_memfd(name) }
    }

    /// A terminal's size in character cells, or nil when `fd` is not a terminal.
    /// C: `ioctl(TIOCGWINSZ)`.
    public static func terminalSize(_ fd: Int32) -> (columns: Int, rows: Int)? {
        var columns: Int32 = 0
        var rows: Int32 = 0
        guard cshims_terminal_size(fd, &columns, &rows) == 0 else { return nil }
        return (Int(columns), Int(rows))
    }

    /// Bytes written to a terminal it has not sent yet, or nil when `fd` is not one.
    /// C: `ioctl(TIOCOUTQ)`.
    public static func terminalPendingOutput(_ fd: Int32) -> Int? {
        let pending = cshims_terminal_pending_output(fd)
        return pending < 0 ? nil : Int(pending)
    }

    /// Asks for `signal` when the thread that spawned this process dies. C: `prctl(PR_SET_PDEATHSIG)`.
    public static func setParentDeathSignal(_ signal: Int32) throws(Errno) {
        try retryingOnInterrupt { cshims_set_parent_death_signal(signal) }
    }
}
