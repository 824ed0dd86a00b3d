/// A message on a worker's control channel (kinds 1–7), to or from its supervisor.
///
/// Payloads are compact binary: little-endian integers, `UInt32`-length-prefixed UTF-8 strings.
/// `heartbeat` and `jobDone` carry no payload; `halted` and `working` carry one string; `ready`
/// carries the worker's build (`BuildInfo.short`) or nothing.
public enum ControlMessage: Equatable, Sendable {
    /// The worker is set up and serving; until then its child counts as starting. `build`: which
    /// build of CIDP it runs (`BuildInfo.short`), for `cidp status` and `cidp upgrade`.
    case ready(build: String?)
    /// The worker is alive (sent every third of its watchdog period).
    case heartbeat
    /// Where the worker is and what it has counted.
    case progress(Progress)
    /// Whether the worker is fully working.
    case health(Health)
    /// The job's work is done (the worker's stage was the last): the tree stops in order.
    case jobDone
    /// The worker's integrity gate stopped its chain: the supervisor holds the chain down until an
    /// operator resumes it. `reason` is one line for the operator.
    case halted(reason: String)
    /// The worker starts processing `item` (for example `"batch 17"`); an empty `item` means it
    /// finished and is idle. The supervisor uses it to recognise a poison pill.
    case working(item: String)

    /// A stage name and counters, for example `("extracting", ["records": 1200, "pages": 12])`.
    public struct Progress: Equatable, Hashable, Sendable {
        /// What the worker is doing.
        public var stage: String
        /// Named counts; encoded in key order.
        public var counters: [String: Int64]

        /// Progress at `stage` with `counters`.
        public init(stage: String, counters: [String: Int64] = [:]) {
            self.stage = stage
            self.counters = counters
        }
    }

    /// Fully working, or working in a reduced way (the source unreachable, backing off) and why.
    public enum Health: Equatable, Hashable, Sendable {
        /// Fully working.
        case healthy
        /// Still running, not fully working; `reason` is one line for the operator.
        case degraded(reason: String)
    }

    /// The frame kind the message travels as.
    public var kind: FrameKind {
        switch self {
        case .ready: .ready
        case .heartbeat: .heartbeat
        case .progress: .progress
        case .health: .health
        case .jobDone: .jobDone
        case .halted: .halted
        case .working: .working
        }
    }

    /// The message's payload.
    public var payload: [UInt8] {
        var writer = PayloadWriter()
        switch self {
        case .heartbeat, .jobDone, .ready(build: nil):
            break
        case .ready(let build?):
            writer.write(build)
        case .progress(let progress):
            writer.write(progress.stage)
            writer.write(UInt32(progress.counters.count))
            for (name, value) in progress.counters.sorted(by: { $0.key < $1.key }) {
                writer.write(name)
                writer.write(value)
            }
        case .health(.healthy):
            writer.write(UInt8(0))
        case .health(.degraded(let reason)):
            writer.write(UInt8(1))
            writer.write(reason)
        case .halted(let reason):
            writer.write(reason)
        case .working(let item):
            writer.write(item)
        }
        return writer.bytes
    }

    /// The message as a frame numbered `sequence`.
    public func frame(sequence: UInt64) -> Frame {
        Frame(kind: kind, sequence: sequence, payload: payload)
    }

    /// Decodes the message a frame carries.
    /// - Throws: `WireError.Code.badPayload` naming the kind and what is wrong (a kind that is
    ///   not a control message, a truncated or overlong payload, bad UTF-8, a duplicate counter),
    ///   with the frame's sequence.
    public init(frame: Frame) throws(WireError) {
        do throws(WireError) {
            self = try Self.decode(kind: frame.kind, payload: frame.payload)
        } catch {
            throw WireError(error.code, channel: error.channel, sequence: frame.sequence)
        }
    }

    private static func decode(kind: FrameKind, payload: [UInt8]) throws(WireError) -> ControlMessage {
        var reader = PayloadReader(payload, message: "\(kind)")
        let message: ControlMessage
        switch kind {
        case .ready: message = .ready(build: payload.isEmpty ? nil : try reader.readString("the build"))
        case .heartbeat: message = .heartbeat
        case .jobDone: message = .jobDone
        case .progress:
            let stage = try reader.readString("the stage")
            // A counter is at least a 4-byte name length and an 8-byte value.
            let count = try reader.readCount("the counter count", minimumSize: 12)
            var counters: [String: Int64] = [:]
            counters.reserveCapacity(count)
            for index in 0..<count {
                let name = try reader.readString("the name of counter \(index)")
                let value = try reader.read(Int64.self, "counter '\(name)'")
                guard counters.updateValue(value, forKey: name) == nil else {
                    throw reader.failure("duplicate counter '\(name)'")
                }
            }
            message = .progress(Progress(stage: stage, counters: counters))
        case .health:
            switch try reader.read(UInt8.self, "the health tag") {
            case 0: message = .health(.healthy)
            case 1: message = .health(.degraded(reason: try reader.readString("the reason")))
            case let tag: throw reader.failure("unknown health tag \(tag)")
            }
        case .halted:
            message = .halted(reason: try reader.readString("the reason"))
        case .working:
            message = .working(item: try reader.readString("the item"))
        default:
            throw WireError(.badPayload("\(kind) is not a control message"))
        }
        try reader.finish()
        return message
    }
}

extension FrameWriter {
    /// Writes `message` as the next frame.
    /// - Returns: the sequence number the frame carried.
    /// - Throws: as `send(kind:payload:)`.
    @discardableResult
    public mutating func send(_ message: ControlMessage) throws(WireError) -> UInt64 {
        try send(kind: message.kind, payload: message.payload)
    }
}
