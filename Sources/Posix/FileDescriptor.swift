#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor: the kernel's small integer for an open file, pipe or socket, in a type of
/// its own so that a descriptor cannot be passed where a pid, a signal, a flag or an exit code
/// is expected, nor one of those where a descriptor is. (swift-system's `FileDescriptor`)
///
/// It names a descriptor; it does not own one. Who closes it (`Posix.close`) is the holder's
/// business, as with the integer it wraps. C calls outside `Posix` take `rawValue`. It codes as
/// the bare number (the root's handover to its re-executed self carries descriptors so).
@frozen
public struct FileDescriptor: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    @inlinable
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: STDIN_FILENO)
    public static let standardOutput = FileDescriptor(rawValue: STDOUT_FILENO)
    public static let standardError = FileDescriptor(rawValue: STDERR_FILENO)

    @inlinable
    public static func < (lhs: FileDescriptor, rhs: FileDescriptor) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The number alone, as `ls /proc/PID/fd` shows it.
    public var description: String { String(rawValue) }
}
