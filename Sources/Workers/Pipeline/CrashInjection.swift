#if canImport(Glibc)
import Glibc
#endif

/// A poison pill on request, for tests and `cidp drill corruption`: with
/// `CIDP_FAULT_CRASH_AT_BATCH=K` in the environment (the supervisor passes its environment to
/// every worker), the transformer aborts (SIGABRT) each time it starts processing batch K — a
/// batch that crashes its worker again and again, until the supervisor's poison-pill count
/// names it and the transformer quarantines it instead of processing it.
public enum CrashInjection {
    public static let crashAtBatchVariable = "CIDP_FAULT_CRASH_AT_BATCH"

    /// The armed batch id, read once; nil when unset or not a batch id.
    public static let crashAtBatch: UInt64? = getenv(crashAtBatchVariable).flatMap { UInt64(String(cString: $0)) }

    /// Aborts the process if `batchID` is the armed batch, after one line on stderr.
    public static func crashIfArmed(batchID: UInt64, role: String) {
        guard let armed = crashAtBatch, armed == batchID else { return }
        let line = Array("\(role): fault injection: crashing on batch \(batchID)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        abort()
    }
}
