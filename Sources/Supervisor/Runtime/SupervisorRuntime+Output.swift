#if canImport(Glibc)
import Glibc
#endif
import Posix

/// Worker output: forwarded to the log, its last lines kept per process (a poison pill's evidence).
extension SupervisorRuntime {
    /// Forwards what a worker wrote, at most `maxChunks` × 64 KiB per call (one by default): epoll is
    /// level-triggered, so a worker that writes without pause is read again on the next turn
    /// of the loop instead of starving every other event.
    func readOutput(fd: FileDescriptor, maxChunks: Int = 1) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<maxChunks {
            let result = Result { () throws(Errno) in try Posix.readAvailable(fd, into: &buffer) }
            switch result {
            case .success(let count?) where count > 0:
                let lines = buffer.withUnsafeBytes { forwarders[fd]?.consume(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                remember(lines ?? [], from: fd)
            case .success(0):
                return
            case .success, .failure:
                remember(forwarders[fd]?.finish().map { [$0] } ?? [], from: fd)
                unregister(fd)
                return
            }
        }
    }

    /// Keeps the last lines of the process writing to `fd`, and its last error line.
    private func remember(_ lines: [String], from fd: FileDescriptor) {
        guard !lines.isEmpty, case .output(_, let pid)? = sources[fd] else { return }
        if let error = forwarders[fd]?.lastError { lastErrors[pid] = error }
        var kept = recentOutput[pid] ?? []
        kept.append(contentsOf: lines.suffix(Self.recentOutputLines))
        recentOutput[pid] = Array(kept.suffix(Self.recentOutputLines))
    }

    /// Reads what an exited worker left on its control channel and in its output pipes, so that
    /// its last messages are applied and its last lines logged (and kept as evidence) before its
    /// exit is handled and it is restarted.
    func readLeftovers(ofExited pid: Int32) {
        for (fd, source) in sources {
            if case .control(let id, pid) = source { readControl(fd: fd, worker: id, pid: pid) }
        }
        for (fd, source) in sources {
            if case .output(_, pid) = source { readOutput(fd: fd, maxChunks: 64) }
        }
    }

    /// After the last worker exited: read what is left in their output pipes.
    func drainOutput() {
        for (fd, source) in sources {
            if case .output = source { readOutput(fd: fd, maxChunks: 64) }
        }
    }
}
