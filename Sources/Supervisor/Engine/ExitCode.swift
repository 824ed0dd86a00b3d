/// The exit codes of `cidp up`, and of every `cidp` command (the command-line contract in
/// DESIGN.md). A scheduler reads them: only 0 means the work was done.
public enum ExitCode {
    /// The job's work is done (or a `--follow` tree was stopped by its operator).
    public static let success: Int32 = 0
    /// The work was not done and will not be by waiting: a chain halted by an integrity gate, a
    /// node that gave up (restart intensity), a source past its give-up deadline, a corrupt
    /// warehouse.
    public static let failure: Int32 = 1
    /// Usage or configuration error: nothing was started, nothing was changed.
    public static let usage: Int32 = 2
    /// A job stopped from outside (SIGINT, SIGTERM, `cidp stop`) before its work was done; what it
    /// committed stays, and the next job continues from there.
    public static let interrupted: Int32 = 3
}
