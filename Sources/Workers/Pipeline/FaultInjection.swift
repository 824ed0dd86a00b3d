#if canImport(Glibc)
import Glibc
#endif
import Posix

/// Faults a worker injects into itself on request, for `cidp drill oom`: read once from the
/// environment (the supervisor passes its own environment to every worker).
///
/// - `CIDP_FAULT_OOM_AT_BATCH=K`: when the loader is about to commit a group holding batch K,
/// - `CIDP_FAULT_ONCE_FILE=PATH` (required with it): and PATH does not exist yet, the worker
///   creates PATH — so its restarted successor does not do it again — then allocates
///   memory without bound until its address-space limit (`memory_limit_mb`, RLIMIT_AS) makes an
///   allocation fail and the Swift runtime kills the process. It never exits cleanly.
///
/// Without a finite RLIMIT_AS the fault is refused (one line on stderr, nothing allocated): it
/// would otherwise take the machine's memory, not the worker's.
public struct FaultInjection: Sendable {
    public static let oomAtBatchVariable = "CIDP_FAULT_OOM_AT_BATCH"
    public static let onceFileVariable = "CIDP_FAULT_ONCE_FILE"

    /// The batch id before whose commit the worker exhausts its memory, if any.
    public let oomAtBatch: UInt64?
    /// Created just before the fault; its presence disarms the fault.
    public let onceFile: String?

    /// No faults.
    public init() {
        oomAtBatch = nil
        onceFile = nil
    }

    public init(oomAtBatch: UInt64?, onceFile: String?) {
        self.oomAtBatch = oomAtBatch
        self.onceFile = onceFile
    }

    /// The faults the environment asks for; a malformed value is ignored with one line on stderr.
    public static func fromEnvironment(role: String) -> FaultInjection {
        guard let text = getenv(oomAtBatchVariable).map({ String(cString: $0) }) else { return FaultInjection() }
        let file = getenv(onceFileVariable).map { String(cString: $0) }
        guard let batch = UInt64(text), batch > 0, let file, !file.isEmpty else {
            warn("\(role): fault injection ignored: \(oomAtBatchVariable)=\(text) needs a batch id >= 1 and \(onceFileVariable)=PATH")
            return FaultInjection()
        }
        return FaultInjection(oomAtBatch: batch, onceFile: file)
    }

    /// Exhausts memory if `batches` holds the armed batch and the once-file is absent; otherwise returns.
    public func beforeCommit(batches: ClosedRange<UInt64>, role: String) {
        guard let batch = oomAtBatch, batches.contains(batch), let onceFile else { return }
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {  // RLIM_INFINITY
            Self.warn("\(role): fault injection refused: no address-space limit (memory_limit_mb), it would exhaust the machine")
            return
        }
        // O_EXCL: exactly one process ever fires the fault, even if two raced here.
        guard let fd = try? Posix.open(onceFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600) else { return }
        Posix.close(fd)
        Self.warn("\(role): fault injection: exhausting memory before committing batch \(batch) (limit \(limit.rlim_cur / 1_048_576) MiB)")
        exhaustMemory()
    }

    /// Allocates 16 MiB blocks, kept forever, until an allocation fails: the Swift runtime then
    /// ends the process with a fatal signal. RLIMIT_AS counts address space, so a block is
    /// mapped and its first page written, not filled: filling 512 MiB page by page took seconds on
    /// a loaded machine, long enough for the watchdog to kill the silent worker before its limit did.
    private func exhaustMemory() -> Never {
        var blocks: [UnsafeMutableRawPointer] = []
        while true {
            let block = UnsafeMutableRawPointer.allocate(byteCount: 16 << 20, alignment: 4096)
            block.storeBytes(of: 0xA5, as: UInt8.self)
            blocks.append(block)
        }
    }

    private static func warn(_ line: String) {
        Posix.writeFully(.standardError, Array((line + "\n").utf8))
    }
}
