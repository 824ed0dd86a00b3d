import Posix
import Logging
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

    /// The one line for a warehouse SQLite finds malformed: nothing is written to it or trained
    /// on, and the way back is a verified backup.
    public static func corruptWarehouse(_ path: String, finding: String) -> String {
        "corrupt: warehouse '\(path)': \(finding); nothing is written to it or trained on: "
            + "restore a verified backup (cidp restore BACKUP --db \(path); the trainer's are in backups/ beside it)"
    }

    /// Halts the worker's chain: logs the `halted` event with the batch (when the halt has one)
    /// and the warehouse watermark, tells the supervisor `message`, then idles until stopped.
    public static func stop(_ message: String, batch: UInt64?, watermark: UInt64, logger: Logger,
                            context: WorkerContext) -> Never {
        var metadata: Logger.Metadata = ["event": "halted", "reason": "\(message)", "watermark.batch": "\(watermark)"]
        if let batch { metadata["batch"] = "\(batch)" }
        logger.warning("Chain halted; waiting for 'cidp resume'", metadata: metadata)
        context.reportHalted(message)
        idle(context: context)
    }

    /// Stays alive, silent but for heartbeats, until the supervisor stops the halted chain
    /// (SIGTERM): a halted worker must neither work nor exit, or it would be restarted.
    public static func idle(context: WorkerContext) -> Never {
        while true {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            Posix.nap(for: .milliseconds(100))
        }
    }
}
