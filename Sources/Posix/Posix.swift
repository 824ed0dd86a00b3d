#if canImport(Glibc)
import Glibc
#endif
import CShims

/// An `errno` value, thrown by the syscall layer.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static var current: Errno { Errno(rawValue: errno) }
    public var description: String { String(cString: strerror(rawValue)) }
}

/// The one thin, typed layer over the system calls the engine makes. Every call retries on
/// `EINTR`; `-1` becomes a thrown `Errno`. (swift-system `valueOrErrno(retryOnInterrupt:)`)
public enum Posix {
    @discardableResult
    public static func retryingOnInterrupt(_ call: () -> Int32) throws(Errno) -> Int32 {
        while true {
            let result = call()
            if result != -1 { return result }
            if errno != EINTR { throw Errno.current }
        }
    }

    /// The monotonic clock as a Duration since an arbitrary origin. C: `clock_gettime(CLOCK_MONOTONIC)`.
    public static func monotonicNow() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }

    /// Closes a descriptor we own. `EBADF` means we closed it twice: a bug.
    public static func close(_ fd: FileDescriptor) {
        if Glibc.close(fd.rawValue) == -1 && errno == EBADF { preconditionFailure("fd \(fd) closed twice") }
    }

    /// A pipe whose ends are both close-on-exec; `nonblockingRead` sets O_NONBLOCK on the read end.
    /// C: `pipe2(O_CLOEXEC)`.
    public static func pipe(nonblockingRead: Bool) throws(Errno) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try retryingOnInterrupt { cshims_pipe2(&fds, 0) }
        let ends = (read: FileDescriptor(rawValue: fds[0]), write: FileDescriptor(rawValue: fds[1]))
        if nonblockingRead { try setFlag(O_NONBLOCK, true, on: ends.read) }
        return ends
    }

    /// A SOCK_SEQPACKET socket pair, both ends close-on-exec. C: `socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)`.
    public static func seqpacketPair() throws(Errno) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try retryingOnInterrupt { socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// Reads and drops every message queued on a datagram or seqpacket socket, without waiting.
    /// C: `recv(MSG_DONTWAIT | MSG_TRUNC)` until it would block.
    /// - Returns: how many messages were dropped.
    public static func discardQueued(_ fd: FileDescriptor) -> Int {
        var count = 0
        var byte: UInt8 = 0
        while true {
            let received = recv(fd.rawValue, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC))
            if received > 0 { count += 1; continue }
            if received == 0 { return count }   // end of file (frames are never empty)
            if errno == EINTR { continue }
            return count
        }
    }

    public static func setNonblocking(_ fd: FileDescriptor) throws(Errno) {
        try setFlag(O_NONBLOCK, true, on: fd)
    }

    /// Spawns `argv[0]` with `environment`, placing `descriptors` (source → target) in the child,
    /// in its own process group with clean signal state. C: `posix_spawn`.
    public static func spawn(argv: [String], environment: [String], descriptors: [(source: FileDescriptor, target: FileDescriptor)]) throws(Errno) -> Int32 {
        var pid: pid_t = 0
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        let sources = descriptors.map(\.source.rawValue)
        let targets = descriptors.map(\.target.rawValue)
        let result = cshims_spawn(&pid, argv[0], cArgv, cEnv, sources, targets, Int32(descriptors.count))
        guard result == 0 else { throw Errno(rawValue: result) }
        return pid
    }

    /// What `signalGroup` found.
    public enum SignalOutcome: Equatable, Sendable { case delivered, alreadyExited }

    /// Sends `signal` to the process group led by `pid` (falling back to the process itself if
    /// the group is gone). `ESRCH` is an event, not an error. C: `kill(-pid, signal)`.
    @discardableResult
    public static func signalGroup(_ pid: Int32, _ signal: Int32) -> SignalOutcome {
        if kill(-pid, signal) == 0 { return .delivered }
        if kill(pid, signal) == 0 { return .delivered }
        return .alreadyExited
    }

    /// Sends `signal` to the process `pid` (the CLI's drills: `kill -9` of a worker, SIGTERM to a
    /// tree under test). `ESRCH` — it has exited — is an event, not an error. C: `kill(pid, signal)`.
    @discardableResult
    public static func signal(_ pid: Int32, _ signal: Int32) -> SignalOutcome {
        kill(pid, signal) == 0 ? .delivered : .alreadyExited
    }

    /// Creates a fresh directory from `template` (ending in `XXXXXX`) and returns its path. C: `mkdtemp`.
    public static func makeTemporaryDirectory(_ template: String) throws(Errno) -> String {
        var bytes = Array(template.utf8CString)
        guard let created = mkdtemp(&bytes) else { throw Errno.current }
        return String(cString: created)
    }

    /// Reaps every exited child without blocking. C: `waitpid(-1, &status, WNOHANG)`.
    /// `ECHILD` (no children left) is not an error.
    public static func reapExited() -> [(pid: Int32, status: Int32)] {
        var reaped: [(Int32, Int32)] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 { reaped.append((pid, status)); continue }
            if pid == -1 && errno == EINTR { continue }
            return reaped
        }
    }

    /// Whether `fd` is a terminal. C: `isatty`.
    public static func isTerminal(_ fd: FileDescriptor) -> Bool { isatty(fd.rawValue) == 1 }

    /// Reads what is available into `buffer`; nil at end of file; 0 when it would block.
    public static func readAvailable(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        while true {
            let count = read(fd.rawValue, buffer.baseAddress, buffer.count)
            if count > 0 { return count }
            if count == 0 { return nil }
            switch errno {
            case EINTR: continue
            case EAGAIN: return 0
            case ECONNRESET: return nil
            default: throw Errno.current
            }
        }
    }

    /// `readAvailable` into the start of `buffer` (up to its count), with the error typed: an
    /// array's `withUnsafeMutableBytes` would turn it into `any Error` at every caller.
    public static func readAvailable(_ fd: FileDescriptor, into buffer: inout [UInt8]) throws(Errno) -> Int? {
        let result = buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(Errno) in try readAvailable(fd, into: bytes) }
        }
        return try result.get()
    }

    /// Writes all of `bytes`, looping over partial writes. C: `write`.
    public static func writeAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        if let error = writeFully(fd, bytes).error { throw error }
    }

    /// Writes all of `bytes`, looping over partial writes, and says how far it got: a log file
    /// records what reached the disk before a full disk stopped it. A write of 0 bytes is `EIO`.
    /// C: `write`.
    /// - Returns: how many bytes went out, and the error that stopped the rest (nil: none).
    @discardableResult
    public static func writeFully(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Errno?) {
        var offset = 0
        while offset < bytes.count {
            let count = write(fd.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            if count > 0 { offset += count; continue }
            if count < 0 && errno == EINTR { continue }
            return (offset, count < 0 ? Errno.current : Errno(rawValue: EIO))
        }
        return (offset, nil)
    }

    /// `writeFully` of an array.
    @discardableResult
    public static func writeFully(_ fd: FileDescriptor, _ bytes: [UInt8]) -> (written: Int, error: Errno?) {
        bytes.withUnsafeBytes { writeFully(fd, $0) }
    }

    /// Writes all of `bytes` to a socket without raising SIGPIPE when the peer has gone: that
    /// is an `EPIPE` error instead. C: `send(MSG_NOSIGNAL)`.
    public static func sendAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let count = send(fd.rawValue, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count >= 0 { offset += count; continue }
            if errno == EINTR { continue }
            throw Errno.current
        }
    }

    /// This process adopts orphaned descendants, so nothing a worker starts escapes reaping.
    /// C: `prctl(PR_SET_CHILD_SUBREAPER)`.
    public static func becomeSubreaper() throws(Errno) {
        try retryingOnInterrupt { cshims_set_child_subreaper() }
    }

    /// Limits a process's address space. C: `prlimit(pid, RLIMIT_AS)`.
    public static func limitAddressSpace(of pid: Int32, bytes: UInt64) throws(Errno) {
        try retryingOnInterrupt { cshims_limit_address_space(pid, bytes) }
    }

    /// A TCP port on 127.0.0.1 that is free now: bound with port 0, read back, released.
    /// C: `socket`, `bind`, `getsockname`.
    public static func freeLoopbackPort() throws(Errno) -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw Errno.current }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Errno.current }
        return UInt16(bigEndian: address.sin_port)
    }

    /// The absolute path of the running executable. C: `readlink("/proc/self/exe")`.
    public static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return buffer.withUnsafeBufferPointer { pointer in
            String(decoding: UnsafeRawBufferPointer(start: pointer.baseAddress, count: count).bindMemory(to: UInt8.self), as: UTF8.self)
        }
    }
}
