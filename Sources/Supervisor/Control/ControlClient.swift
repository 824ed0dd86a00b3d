#if canImport(Glibc)
import Glibc
#endif
import Posix
import Foundation

/// The client side of the control socket, used by `cidp status`, `restart` and `stop`.
public struct ControlClient: Sendable {
    public let runDirectory: RunDirectory

    public init(runDirectory: RunDirectory) { self.runDirectory = runDirectory }

    /// Sends `request` and returns the reply. With `waitForExit`, keeps reading until the
    /// supervisor closes the connection (it does so as it exits). Refused only because the socket
    /// is busy (`control.max_connections` clients connected), it tries again when the reply says a
    /// slot should be free, for up to `busyWait`; then the refusal is the reply.
    /// - Throws: `SupervisorError.notRunning` when nothing listens; `.protocolError` on a bad reply.
    public func send(_ request: ControlRequest, waitForExit: Bool = false,
                     busyWait: Duration = .seconds(30)) throws(SupervisorError) -> ControlReply {
        let deadline = Posix.monotonicNow() + busyWait
        while true {
            let reply = try sendOnce(request, waitForExit: waitForExit)
            let now = Posix.monotonicNow()
            guard !reply.ok, let retryAfter = reply.retryAfterMs, now < deadline else { return reply }
            let wait = min(Duration.milliseconds(min(max(retryAfter, 10), 60_000)), deadline - now)
            Posix.sleep(for: wait)
        }
    }

    private func sendOnce(_ request: ControlRequest, waitForExit: Bool) throws(SupervisorError) -> ControlReply {
        let path = runDirectory.socketPath
        let fd: FileDescriptor
        do throws(Errno) { fd = try Posix.unixStreamSocket(nonblocking: false) } catch {
            throw SupervisorError(.controlSocket, path: path, error)
        }
        defer { Posix.close(fd) }
        do throws(Errno) { try Posix.connectUnix(fd, to: path) } catch {
            throw SupervisorError(.notRunning, path: path, error)
        }
        let line = Array((request.line + "\n").utf8)
        // The server may answer and close before reading the request (it refuses a client of
        // another user at once): the write then fails with EPIPE, but the reply is there to read.
        var sendFailure: Errno?
        do throws(Errno) { try Posix.sendAll(fd, line) } catch { sendFailure = error }
        var received: [UInt8] = []
        var reply: ControlReply?
        while let bytes = Posix.readSome(fd, capacity: 65536) {
            received += bytes
            if reply == nil, let newline = received.firstIndex(of: UInt8(ascii: "\n")) {
                reply = try Self.decode(Array(received[..<newline]), path: path)
                if !waitForExit { break }
            }
        }
        if let reply { return reply }
        if received.isEmpty, let sendFailure { throw SupervisorError(.notRunning, path: path, sendFailure) }
        if received.isEmpty {
            throw SupervisorError(.protocolError, path: path, detail: "the supervisor closed the connection without a reply")
        }
        return try Self.decode(received, path: path)
    }

    private static func decode(_ bytes: [UInt8], path: String) throws(SupervisorError) -> ControlReply {
        do {
            return try JSONDecoder().decode(ControlReply.self, from: Data(bytes))
        } catch {
            throw SupervisorError(.protocolError, path: path, detail: "not a control reply: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
    }
}
