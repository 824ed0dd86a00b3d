import Posix

/// Wire: the framing and the control messages shared by the supervisor and the workers (what
/// flows between the pipeline's stages is `Pipeline`'s).
///
/// It owns the descriptor numbers and environment variable names a worker is launched with,
/// so that both sides agree on them without either importing the other.
public enum WireLayout {
    /// The control channel (a SOCK_SEQPACKET socket to the supervisor) in every worker.
    public static let controlFD = FileDescriptor(rawValue: 3)
    /// The data channel from the upstream worker (a SOCK_SEQPACKET socket), if the worker has one.
    public static let inputFD = FileDescriptor(rawValue: 4)
    /// The data channel to the downstream worker (a SOCK_SEQPACKET socket), if the worker has one.
    public static let outputFD = FileDescriptor(rawValue: 5)
    /// The name of the worker, as the supervisor knows it.
    public static let workerNameVariable = "CIDP_WORKER_NAME"
    /// The pid of the supervisor that spawned the worker; the worker exits if its parent differs.
    public static let supervisorPIDVariable = "CIDP_SUPERVISOR_PID"
    /// Heartbeat period in milliseconds the worker should keep (a third of the watchdog).
    public static let heartbeatIntervalVariable = "CIDP_HEARTBEAT_MS"
    /// Address-space limit in bytes the worker applies to itself first thing.
    public static let memoryLimitVariable = "CIDP_MEMORY_LIMIT"
    /// `1` when this start of the worker resumes its halted chain (`cidp resume`); absent otherwise.
    public static let resumedVariable = "CIDP_RESUMED"
    /// The item the worker crashed on too many times in a row (a poison pill): skip or quarantine it.
    public static let poisonItemVariable = "CIDP_POISON_ITEM"
    /// One line saying why the supervisor thinks the item is poisoned: crashes, how, last output.
    public static let poisonEvidenceVariable = "CIDP_POISON_EVIDENCE"
}
