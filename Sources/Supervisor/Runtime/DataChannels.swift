#if canImport(Glibc)
import Glibc
#endif
import Posix
import Wire

/// The data channels between workers (`input = "X"` in a policy): one SOCK_SEQPACKET socket
/// pair per channel, created once and held by the supervisor for the life of the tree.
///
/// Holding both ends is what lets a channel outlive its workers: when the reader dies, the
/// writer neither gets EPIPE nor loses what is queued; the next incarnation of the reader is
/// handed the same end and reads on from the next message. Messages keep their boundaries, so
/// a new reader never starts mid-frame.
struct DataChannels: Codable {
    struct Channel: Codable {
        /// The writer's end: the upstream worker's `WireLayout.outputFD`.
        let upstreamEnd: FileDescriptor
        /// The reader's end: the downstream worker's `WireLayout.inputFD`.
        let downstreamEnd: FileDescriptor
        let producer: String
        let consumer: String
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
            let fds: (FileDescriptor, FileDescriptor)
            do throws(Errno) { fds = try Posix.seqpacketPair() } catch {
                throw SupervisorError(.spawnFailed, path: "\(producer)→\(spec.name)", detail: "data channel", error)
            }
            for fd in [fds.0, fds.1] { Posix.enlargeSocketBuffers(fd, to: Self.bufferBytes) }
            let channel = Channel(upstreamEnd: fds.0, downstreamEnd: fds.1, producer: producer, consumer: spec.name)
            byConsumer[spec.name] = channel
            byProducer[producer] = channel
        }
    }

    /// The descriptors a worker is given: its input at `inputFD`, its output at `outputFD`.
    func descriptors(for spec: ChildSpec) -> [(source: FileDescriptor, target: FileDescriptor)] {
        var result: [(FileDescriptor, FileDescriptor)] = []
        if let channel = byConsumer[spec.name] { result.append((channel.downstreamEnd, WireLayout.inputFD)) }
        if let channel = byProducer[spec.name] { result.append((channel.upstreamEnd, WireLayout.outputFD)) }
        return result
    }

    /// Before `spec`'s worker is spawned: empties each of its channels whose other end has no live
    /// worker either, so that nobody reads what a dead incarnation wrote.
    ///
    /// When a chain restarts from the checkpoint (rest_for_one after an upstream crash), the
    /// frames a dead writer left queued would otherwise reach the new reader before the new
    /// writer's: batches numbered from the same checkpoint but cut from a source that may have
    /// grown meanwhile, so the new writer's batch of the same id (skipped as a duplicate) and its
    /// next one would not join up. With both ends down nothing in the channel is owed to anyone:
    /// the writer re-sends from the checkpoint and the reader asks for it. A channel whose other
    /// end is alive is left alone: that worker re-sends its unacknowledged batches on request.
    /// C: `recv(MSG_DONTWAIT)` until `EAGAIN`.
    /// - Returns: the frames discarded, per channel, for the log (empty when nothing was queued).
    func discardStale(for spec: ChildSpec, isAlive: (String) -> Bool) -> [(channel: String, frames: Int)] {
        var discarded: [(String, Int)] = []
        for channel in [byConsumer[spec.name], byProducer[spec.name]].compactMap({ $0 }) {
            let other = channel.producer == spec.name ? channel.consumer : channel.producer
            guard !isAlive(other) else { continue }
            let frames = Posix.discardQueued(channel.downstreamEnd) + Posix.discardQueued(channel.upstreamEnd)
            if frames > 0 { discarded.append(("\(channel.producer)→\(channel.consumer)", frames)) }
        }
        return discarded
    }

    /// Both ends of every channel: what a re-executed root keeps open (`RootHandover`).
    var allDescriptors: [FileDescriptor] { byConsumer.values.flatMap { [$0.upstreamEnd, $0.downstreamEnd] } }

    func closeAll() {
        for channel in byConsumer.values {
            Posix.close(channel.upstreamEnd)
            Posix.close(channel.downstreamEnd)
        }
    }
}
