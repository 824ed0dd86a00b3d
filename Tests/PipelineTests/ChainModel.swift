import Pipeline
import Testing
import Wire

/// The whole hand-off — extractor's window → relay → sink → warehouse — as values: channels are
/// queues, a worker's restart a new machine from the warehouse's checkpoint, and the frames a
/// killed worker had read are lost with it. Whatever is duplicated, reordered, re-sent or lost,
/// and wherever a worker restarts, every batch is committed exactly once, in order.
struct ChainModel {
    enum Worker: CaseIterable { case extractor, relay, sink }
    enum Fault: Equatable { case restart(Worker, losing: Int), duplicate(queue: Int), swap(queue: Int) }

    let total: UInt64
    let windowSize: Int
    // The extractor.
    var sender: SentBatches
    var nextID: UInt64 = 1
    var isEndSent = false
    var relay: Relay
    var sink: Sink
    var group: [UInt64] = []
    /// Every commit, in order: the warehouse.
    var warehouse: [UInt64] = []
    var isStreamLoaded = false
    /// The poison pill the supervisor names to the sink's next start, and the batches it quarantined so.
    var pillForNextSinkStart: PoisonPill?
    var quarantined: [UInt64] = []
    /// 0: extractor → relay, 1: relay → extractor, 2: relay → sink, 3: sink → relay.
    var queues: [[DataMessage]] = [[], [], [], []]

    init(total: UInt64, window: Int) {
        self.total = total
        windowSize = window
        sender = SentBatches(capacity: window)
        relay = Relay(resumingAfter: 0, window: window)
        sink = Sink(resumingAfter: 0)
        queues[1].append(BatchSequencer.startRequest)
        queues[3].append(BatchSequencer.startRequest)
    }

    var checkpoint: UInt64 { warehouse.last ?? 0 }

    static func batch(_ id: UInt64) -> DataMessage {
        DataMessage(kind: .recordBatch, payload: RecordBatch(batchID: id, cursor: "\(id)", records: []).encoded())
    }

    static func id(_ message: DataMessage) -> UInt64 {
        switch message.kind {
        case .ack: (try? BatchAck(decoding: message.payload).batchID) ?? 0
        case .recordBatch, .transformedBatch: (try? RecordBatch(decoding: message.payload).batchID) ?? 0
        default: 0
        }
    }

    /// One step of normal work, the first of the workers in `order` able to do one; false when none can.
    mutating func step(_ order: [Int]) -> Bool {
        for choice in order {
            switch choice {
            case 0 where !sender.isFull && nextID <= total:
                let message = Self.batch(nextID)
                sender.sent(nextID, message)
                queues[0].append(message)
                nextID += 1
            case 0 where nextID > total && !isEndSent:
                let end = EndOfStream(lastBatchID: total, records: total)
                sender.sent(end)
                queues[0].append(.end(end))
                isEndSent = true
            case 1 where !queues[1].isEmpty:
                let message = queues[1].removeFirst()
                if message.kind == .ack { sender.acknowledge(upTo: Self.id(message)) } else { queues[0] += sender.resend() }
            case 2 where !queues[0].isEmpty && relay.acceptsInput:
                let message = queues[0].removeFirst()
                guard message.kind == .recordBatch else {
                    relay.streamEnded(try! EndOfStream(decoding: message.payload))
                    send(relay.endToForward())
                    return true
                }
                let id = Self.id(message)
                let (admission, sends) = relay.admit(id)
                send(sends)
                if admission == .apply {
                    let output = DataMessage(kind: .transformedBatch, payload: message.payload)
                    send(relay.processed(id, into: output))
                }
                send(relay.endToForward())
            case 3 where !queues[3].isEmpty:
                let message = queues[3].removeFirst()
                send(message.kind == .ack ? relay.acknowledged(Self.id(message)) : relay.resendRequested())
            case 4 where !queues[2].isEmpty && (sink.hasRoom || queues[2][0].kind == .endOfStream):
                let message = queues[2].removeFirst()
                guard message.kind != .endOfStream else {
                    sink.streamEnded(try! EndOfStream(decoding: message.payload))
                    return true
                }
                let (admission, sends) = sink.admit(Self.id(message))
                queues[3] += sends
                switch admission {
                case .apply: group.append(Self.id(message))
                case .quarantinePoisonPill: group.append(Self.id(message)); quarantined.append(Self.id(message))
                default: break
                }
            case 5 where !group.isEmpty:
                // The commit: the group must follow the checkpoint, in order.
                #expect(group == Array(checkpoint + 1...checkpoint + UInt64(group.count)), "commit of \(group) after \(checkpoint)")
                warehouse += group
                queues[3] += sink.committed(through: group.last!)
                group = []
            case 5 where sink.streamLoadedNow() != nil:
                isStreamLoaded = true
            default: continue
            }
            return true
        }
        return false
    }

    mutating func send(_ sends: Relay.Sends) {
        queues[1] += sends.upstream
        queues[2] += sends.downstream
    }

    mutating func inject(_ fault: Fault) {
        switch fault {
        case .restart(.extractor, let lost):
            queues[1].removeFirst(min(lost, queues[1].count))
            sender = SentBatches(capacity: windowSize)
            nextID = checkpoint + 1
            isEndSent = false
        case .restart(.relay, let lost):
            queues[0].removeFirst(min(lost, queues[0].count))
            queues[3].removeFirst(min(lost, queues[3].count))
            relay = Relay(resumingAfter: checkpoint, window: windowSize)
            queues[1].append(BatchSequencer.startRequest)
        case .restart(.sink, let lost):
            queues[2].removeFirst(min(lost, queues[2].count))
            sink = Sink(resumingAfter: checkpoint, poisonPill: pillForNextSinkStart)
            group = []
            isStreamLoaded = false
            queues[3].append(BatchSequencer.startRequest)
        case .duplicate(let queue):
            if let first = queues[queue].first { queues[queue].insert(first, at: 0) }
        case .swap(let queue):
            if queues[queue].count >= 2 { queues[queue].swapAt(0, 1) }
        }
    }

    /// Runs to quiescence (bounded), the workers taking turns.
    mutating func settle() {
        var turn = 0
        for _ in 0..<100_000 {
            let order = (0..<6).map { ($0 + turn) % 6 }
            turn += 1
            if !step(order) { return }
        }
        Issue.record("the chain did not settle")
    }

    func expectExactlyOnce(_ comment: Comment) {
        #expect(warehouse == Array(1...total), comment)
        #expect(isStreamLoaded, comment)
        #expect(sender.isEmpty, comment)
        #expect(relay.window.isEmpty, comment)
    }
}

/// SplitMix64: the same faults on every run and platform.
struct FaultDice {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
