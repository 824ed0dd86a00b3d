#if canImport(Glibc)
import Glibc
#endif

/// What a pipeline worker does once an integrity gate has halted its chain.
public enum Halt {
    /// The one line `cidp status` and `cidp up` show for a halt at a quarantined batch, e.g.
    /// `gate 'record' quarantined batch 3: pressure 1000000.0 outside 0.0…50.0`.
    public static func message(gate: String, batchID: UInt64, reason: String) -> String {
        "gate '\(gate)' quarantined batch \(batchID): \(reason)"
    }

    /// Stays alive, silent but for heartbeats, until the supervisor stops the halted chain
    /// (SIGTERM): a halted worker must neither work nor exit, or it would be restarted.
    public static func idle(context: WorkerContext) -> Never {
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&pause, nil)
        }
    }
}
