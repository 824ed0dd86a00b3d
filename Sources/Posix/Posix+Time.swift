#if canImport(Glibc)
import Glibc
#endif

/// The clocks, sleeping and the environment: the one place each is done.
extension Posix {
    /// The real-time clock, in Unix seconds and nanoseconds. C: `clock_gettime(CLOCK_REALTIME)`.
    public static func realtimeNow() -> timespec {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec
    }

    /// The real-time clock in Unix milliseconds.
    public static func unixMilliseconds() -> Int64 {
        let now = realtimeNow()
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Sleeps the calling thread for the whole of `duration`, resuming after a signal.
    /// C: `nanosleep`, retried with the time left on `EINTR`.
    public static func sleep(for duration: Duration) {
        guard duration > .zero else { return }
        var request = timespec(duration)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    /// Sleeps the calling thread for at most `duration`: a signal (SIGTERM) ends it early, so a
    /// worker polling a stop flag between naps sees the signal at once. C: `nanosleep`, not retried.
    public static func nap(for duration: Duration) {
        guard duration > .zero else { return }
        var request = timespec(duration)
        _ = nanosleep(&request, nil)
    }

    /// This process's environment as a dictionary (the first of a repeated name wins, as
    /// `getenv` does). C: `environ`.
    public static func environment() -> [String: String] {
        var values: [String: String] = [:]
        for entry in environmentEntries() {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<equals])
            if values[name] == nil { values[name] = String(entry[entry.index(after: equals)...]) }
        }
        return values
    }

    /// This process's environment as its `NAME=VALUE` entries, in order. C: `environ`.
    public static func environmentEntries() -> [String] {
        var entries: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            entries.append(String(cString: entry))
            pointer += 1
        }
        return entries
    }
}

extension timespec {
    /// A non-negative duration as a `timespec`.
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(max(0, seconds)), tv_nsec: seconds < 0 ? 0 : Int(attoseconds / 1_000_000_000))
    }
}
