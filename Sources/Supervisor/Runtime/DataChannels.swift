#if canImport(Glibc)
import Glibc
#endif
import CShims
import Wire

/// The data channels between workers (`input = "X"` in a policy): one SOCK_SEQPACKET socket
/// pair per channel, created once and held by the supervisor for the life of the tree.
///
/// Holding both ends is what lets a channel outlive its workers: when the reader dies, the
/// writer neither gets EPIPE nor loses what is queued; the next incarnation of the reader is
/// handed the same end and reads on from the next message. Messages keep their boundaries, so
/// a new reader never starts mid-frame.
struct DataChannels {
    struct Channel {
        /// The writer's end: the upstream worker's `WireLayout.outputFD`.
        let upstreamEnd: Int32
        /// The reader's end: the downstream worker's `WireLayout.inputFD`.
        let downstreamEnd: Int32
    }

    /// By the name of the downstream worker.
    private(set) var byConsumer: [String: Channel] = [:]
    /// By the name of the upstream worker.
    private(set) var byProducer: [String: Channel] = [:]

    /// The socket buffer each direction gets: room for a window of record batches.
    static let bufferBytes: Int32 = 4 << 20

    /// Creates a channel for every worker of `root` that has an `input`.
    /// - Throws: `SupervisorError.spawnFailed` naming the channel when a socket pair cannot be made.
    init(root: NodeSpec) throws(SupervisorError) {
        for spec in root.workers {
            guard let producer = spec.input else { continue }
            var fds: [Int32] = [-1, -1]
            guard cshims_socketpair(0, 0, &fds) == 0 else {
                throw SupervisorError(.spawnFailed, path: "\(producer)→\(spec.name)", detail: "data channel", Errno.current)
            }
            for fd in fds { Self.enlargeBuffers(fd) }
            let channel = Channel(upstreamEnd: fds[0], downstreamEnd: fds[1])
            byConsumer[spec.name] = channel
            byProducer[producer] = channel
        }
    }

    /// The descriptors a worker is given: its input at `inputFD`, its output at `outputFD`.
    func descriptors(for spec: ChildSpec) -> [(source: Int32, target: Int32)] {
        var result: [(Int32, Int32)] = []
        if let channel = byConsumer[spec.name] { result.append((channel.downstreamEnd, WireLayout.inputFD)) }
        if let channel = byProducer[spec.name] { result.append((channel.upstreamEnd, WireLayout.outputFD)) }
        return result
    }

    func closeAll() {
        for channel in byConsumer.values {
            Posix.close(channel.upstreamEnd)
            Posix.close(channel.downstreamEnd)
        }
    }

    /// Asks for `bufferBytes` each way: SO_SNDBUFFORCE/SO_RCVBUFFORCE when privileged, else the
    /// plain options (capped by the system's `wmem_max`/`rmem_max`).
    private static func enlargeBuffers(_ fd: Int32) {
        var size = bufferBytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, length) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, length)
        }
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length)
        }
    }
}
