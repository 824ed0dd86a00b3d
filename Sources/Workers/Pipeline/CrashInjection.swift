#if canImport(Glibc)
import Glibc
#endif
import Posix

/// A poison pill on request, for tests: with `CIDP_FAULT_CRASH_AT_BATCH=K` in the environment
/// (the supervisor passes its environment to every worker), the worker named by
/// `CIDP_FAULT_CRASH_ROLE` (`transformer` by default, or `loader`) aborts (SIGABRT) each time it
/// starts processing (committing) batch K — a batch that crashes its worker again and again,
/// until the supervisor's poison-pill count names it and the worker quarantines it instead.
public enum CrashInjection {
    public static let crashAtBatchVariable = "CIDP_FAULT_CRASH_AT_BATCH"
    public static let crashRoleVariable = "CIDP_FAULT_CRASH_ROLE"

    /// The role that crashes: `transformer` unless the environment names another.
    public static let crashRole: String = getenv(crashRoleVariable).map { String(cString: $0) } ?? "transformer"

    /// The armed batch id, read once; nil when unset or not a batch id.
    public static let crashAtBatch: UInt64? = getenv(crashAtBatchVariable).flatMap { UInt64(String(cString: $0)) }

    /// Aborts the process if `batchID` is the armed batch, after one line on stderr.
    public static func crashIfArmed(batchID: UInt64, role: String) {
        guard let armed = crashAtBatch, armed == batchID, role == crashRole else { return }
        Posix.writeFully(.standardError, Array("\(role): fault injection: crashing on batch \(batchID)\n".utf8))
        abort()
    }
}
