import CSQLite
import CSQLiteFaults
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Fault injection at SQLite's file-system boundary, as SQLite's own test suite does it: a VFS
/// wrapping the default one makes the N-th open, write or sync of one worker fail with
/// `SQLITE_FULL`, `SQLITE_IOERR` or `SQLITE_BUSY` (`Sources/CSQLiteFaults`). Enabled only by a test
/// environment variable; without it nothing is registered and SQLite runs as it always does.
///
/// - `CIDP_FAULT_VFS=WORKER:OPERATION:N:ERROR[:COUNT]`: in the worker named WORKER (its
///   `CIDP_WORKER_NAME`, the policy's name), calls N … N+COUNT−1 (default 1) of OPERATION (`open`,
///   `write` or `sync`, counted across the process's files) fail with ERROR (`full`, `ioerr` or
///   `busy`) — a disk that fills and is then cleared, a failing device, a lock.
/// - `CIDP_FAULT_VFS_ONCE=PATH` (optional): the fault fires in one process only — the first to
///   reach it creates PATH — so a restarted worker is not faulted again.
public enum SQLiteFaults {
    public static let variable = "CIDP_FAULT_VFS"
    public static let onceVariable = "CIDP_FAULT_VFS_ONCE"

    /// Whether the faulting VFS is installed in this process: decided once, before the first
    /// connection opens (`Database.init` reads it).
    static let isInstalled: Bool = {
        guard let text = getenv(variable).map({ String(cString: $0) }) else { return false }
        let name = getenv(WireLayout.workerNameVariable).map { String(cString: $0) } ?? ""
        guard let fault = Fault(text), fault.worker == name else { return false }
        let once = getenv(onceVariable).map { String(cString: $0) }
        return csqlite_faults_install(fault.operation, Int64(fault.first), Int64(fault.count), fault.error, once) == SQLITE_OK
    }()

    /// How many faults fired in this process.
    public static var fired: Int { Int(csqlite_faults_fired()) }

    /// A parsed `CIDP_FAULT_VFS` value.
    struct Fault: Equatable {
        var worker: String
        var operation: Int32
        var first: Int
        var count: Int
        var error: Int32

        init?(_ text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4 || parts.count == 5, !parts[0].isEmpty,
                  let first = Int(parts[2]), first >= 1 else { return nil }
            switch parts[1] {
            case "open": operation = Int32(CSQLITE_FAULT_OPEN.rawValue)
            case "write": operation = Int32(CSQLITE_FAULT_WRITE.rawValue)
            case "sync": operation = Int32(CSQLITE_FAULT_SYNC.rawValue)
            default: return nil
            }
            switch parts[3] {
            case "full": error = SQLITE_FULL
            case "ioerr": error = SQLITE_IOERR
            case "busy": error = SQLITE_BUSY
            default: return nil
            }
            let count = parts.count == 5 ? Int(parts[4]) : 1
            guard let count, count >= 1 else { return nil }
            worker = parts[0]
            self.first = first
            self.count = count
        }
    }
}
