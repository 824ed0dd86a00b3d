import Posix
#if canImport(Glibc)
import Glibc
#endif
import Wire
import LogFormat

/// A wall-clock instant with millisecond precision, as the log handlers print it.
///
/// Handlers take a `() -> LogTimestamp` so tests can pass a fixed one; formatting is pure.
public struct LogTimestamp: Sendable, Equatable {
    public var secondsSinceEpoch: Int64
    /// 0…999.
    public var milliseconds: Int
    /// The local time zone's offset east of UTC at this instant, for the console's time of day.
    public var utcOffsetSeconds: Int

    public init(secondsSinceEpoch: Int64, milliseconds: Int, utcOffsetSeconds: Int = 0) {
        self.secondsSinceEpoch = secondsSinceEpoch
        self.milliseconds = milliseconds
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// Reads the real-time clock and the local offset. C: `localtime_r`.
    @Sendable public static func now() -> LogTimestamp {
        let spec = Posix.realtimeNow()
        var seconds = spec.tv_sec
        var broken = tm()
        localtime_r(&seconds, &broken)
        return LogTimestamp(secondsSinceEpoch: Int64(spec.tv_sec), milliseconds: Int(spec.tv_nsec / 1_000_000),
                            utcOffsetSeconds: Int(broken.tm_gmtoff))
    }

    /// ISO-8601 UTC with milliseconds: `2024-05-01T12:34:56.789Z`.
    public var iso8601: String {
        LogLine.formatTimestamp(secondsSinceEpoch: secondsSinceEpoch, milliseconds: milliseconds)
    }

    /// The local time of day, `HH:MM:SS.mmm`.
    public var localTimeOfDay: String {
        let local = secondsSinceEpoch + Int64(utcOffsetSeconds)
        let secondOfDay = Int(((local % 86_400) + 86_400) % 86_400)
        return Self.twoDigits(secondOfDay / 3600) + ":" + Self.twoDigits(secondOfDay / 60 % 60) + ":"
            + Self.twoDigits(secondOfDay % 60) + "." + String(String(1000 + min(max(milliseconds, 0), 999)).dropFirst())
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
