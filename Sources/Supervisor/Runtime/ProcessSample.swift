#if canImport(Glibc)
import Glibc
#endif
import Posix

/// A worker's resident memory and CPU time, read by the root from `/proc/PID/stat` and
/// `/proc/PID/statm` (no call into the worker, no signal: a hung worker reads the same).
public struct ProcessSample: Sendable, Equatable {
    /// Resident set size, bytes (statm's second field × the page size).
    public var residentBytes: Int64
    /// User plus system CPU time, seconds (stat's utime + stime over the clock tick).
    public var cpuSeconds: Double

    public init(residentBytes: Int64, cpuSeconds: Double) {
        self.residentBytes = residentBytes
        self.cpuSeconds = cpuSeconds
    }

    /// The sample of `pid`, or nil when it has gone (or is not readable).
    public static func read(pid: Int32) -> ProcessSample? {
        guard let stat = readSmallFile("/proc/\(pid)/stat"), let statm = readSmallFile("/proc/\(pid)/statm") else { return nil }
        return parse(stat: stat, statm: statm, pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))),
                     ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// Parses the two files' text. The command name in stat is in parentheses and may hold
    /// spaces or parentheses itself: fields are counted from the last ')'.
    static func parse(stat: String, statm: String, pageSize: Int64, ticksPerSecond: Double) -> ProcessSample? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // After ')': state(3) ppid(4) … utime(14) stime(15): indices 11 and 12 from the state.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let pages = statm.split(separator: " ")
        guard pages.count > 1, let resident = Int64(pages[1]) else { return nil }
        return ProcessSample(residentBytes: resident * pageSize, cpuSeconds: (utime + stime) / max(ticksPerSecond, 1))
    }

    private static func readSmallFile(_ path: String) -> String? {
        guard let fd = try? Posix.open(path, O_RDONLY | O_CLOEXEC) else { return nil }
        defer { Posix.close(fd) }
        guard let bytes = Posix.readSome(fd, capacity: 1024) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
