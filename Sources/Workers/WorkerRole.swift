/// The roles `cidp worker ROLE` can run.
public enum WorkerRole: String, CaseIterable, Sendable {
    /// A worker that can be told to crash, hang, exit, allocate without bound or ignore SIGTERM.
    case test
}
