import Glibc
import Testing
@testable import Posix
@testable import Wire

@Suite struct ControlMessageTests {
    static let messages: [ControlMessage] = [
        .ready(build: nil), .ready(build: "0.10.0+1a2b3c4d5e6f"), .heartbeat, .jobDone,
        .progress(.init(stage: "extracting")),
        .progress(.init(stage: "chargement ⛽", counters: ["records": 1200, "pages": -3, "": .max, "z": .min])),
        .health(.healthy),
        .health(.degraded(reason: "sensor API unreachable: connection refused (retry in 8 s)")),
        .health(.degraded(reason: "")),
        .halted(reason: "batch 17: checksum mismatch in 3 records (quarantined)"),
        .halted(reason: ""),
        .working(item: "batch 17"),
        .working(item: "lot nº 4 ⛽"),
        .working(item: ""),
    ]

    @Test(arguments: messages)
    func roundTripsThroughAFrame(message: ControlMessage) throws {
        let frame = message.frame(sequence: 77)
        #expect(frame.kind == message.kind)
        #expect(try ControlMessage(frame: frame) == message)
        var decoder = FrameDecoder()
        decoder.append(frame.encoded())
        #expect(try ControlMessage(frame: try #require(try decoder.next())) == message)
    }

    @Test func sendsThroughAWriter() throws {
        let pair = try DescriptorPair.socketPair(SOCK_SEQPACKET)
        var writer = FrameWriter(fd: pair.write, channel: "control")
        for message in Self.messages { try writer.send(message) }
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "control")
        var received: [ControlMessage] = []
        while let frame = try reader.read() { received.append(try ControlMessage(frame: frame)) }
        #expect(received == Self.messages)
    }

    @Test func encodesCountersInKeyOrder() {
        let a = ControlMessage.progress(.init(stage: "s", counters: ["b": 2, "a": 1, "c": 3])).payload
        let expected: [UInt8] = [1, 0, 0, 0, 0x73, 3, 0, 0, 0,
                                 1, 0, 0, 0, 0x61, 1, 0, 0, 0, 0, 0, 0, 0,
                                 1, 0, 0, 0, 0x62, 2, 0, 0, 0, 0, 0, 0, 0,
                                 1, 0, 0, 0, 0x63, 3, 0, 0, 0, 0, 0, 0, 0]
        #expect(a == expected)
    }

    @Test func emptyMessagesHaveNoPayload() {
        #expect(ControlMessage.ready(build: nil).payload.isEmpty)
        #expect(ControlMessage.heartbeat.payload.isEmpty)
        #expect(ControlMessage.jobDone.payload.isEmpty)
    }

    @Test func theBuildIdOfThisProcessIsTheLinkersNote() throws {
        // The test binary is linked like cidp: a GNU build-id note of 20 bytes (SHA-1).
        #expect(BuildInfo.buildID.count == 40 && BuildInfo.buildID.allSatisfy(\.isHexDigit), "\(BuildInfo.buildID)")
        #expect(BuildInfo.short == "\(BuildInfo.version)+\(BuildInfo.buildID.prefix(12))")
        // The same note as `readelf -n` reads from the file.
        let notes: [UInt8] = [4, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4E, 0x55, 0, 0xAB, 0xCD, 0xEF, 0]
        let other: [UInt8] = [4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0x47, 0x4E, 0x55, 0, 1, 2, 3, 4]
        #expect((other + notes).withUnsafeBytes { BuildInfo.buildID(inNotes: $0) } == [0xAB, 0xCD, 0xEF])
        #expect(other.withUnsafeBytes { BuildInfo.buildID(inNotes: $0) } == nil)
    }

    @Test func haltedAndWorkingTravelAsKindsSixAndSeven() {
        #expect(ControlMessage.halted(reason: "x").kind == FrameKind(rawValue: 6))
        #expect(ControlMessage.working(item: "x").kind == FrameKind(rawValue: 7))
        #expect(FrameKind.halted.description == "halted")
        #expect(FrameKind.working.description == "working")
        #expect(ControlMessage.working(item: "b7").payload == [2, 0, 0, 0, 0x62, 0x37])
        #expect(ControlMessage.working(item: "").payload == [0, 0, 0, 0])
    }

    @Test func rejectsAHaltedMessageWithoutItsReason() {
        #expect(throws: WireError(.badPayload("halted: 0 bytes left where the length of the reason needs 4"), sequence: 4)) {
            try ControlMessage(frame: Frame(kind: .halted, sequence: 4))
        }
    }

    @Test func rejectsAWorkingItemLongerThanItsPayload() {
        #expect(throws: WireError(.badPayload("working: the item claims 9 bytes, 2 left"), sequence: 5)) {
            try ControlMessage(frame: Frame(kind: .working, sequence: 5, payload: [9, 0, 0, 0, 0x62, 0x37]))
        }
    }

    @Test func rejectsAWorkingItemThatIsNotUTF8() {
        #expect(throws: WireError(.badPayload("working: the item is not valid UTF-8"), sequence: 0)) {
            try ControlMessage(frame: Frame(kind: .working, sequence: 0, payload: [1, 0, 0, 0, 0xC3]))
        }
    }

    @Test func rejectsBytesAfterAHaltedReason() {
        #expect(throws: WireError(.badPayload("halted: 1 unexpected bytes after the end"), sequence: 0)) {
            try ControlMessage(frame: Frame(kind: .halted, sequence: 0, payload: [1, 0, 0, 0, 0x78, 0]))
        }
    }

    @Test func rejectsADataKindNamingIt() {
        #expect(throws: WireError(.badPayload("kind 16 is not a control message"), sequence: 3)) {
            try ControlMessage(frame: Frame(kind: .recordBatch, sequence: 3))
        }
    }

    @Test func rejectsBytesAfterAnEmptyMessage() {
        #expect(throws: WireError(.badPayload("heartbeat: 1 unexpected bytes after the end"), sequence: 0)) {
            try ControlMessage(frame: Frame(kind: .heartbeat, sequence: 0, payload: [0]))
        }
    }

    @Test func rejectsAnUnknownHealthTag() {
        #expect(throws: WireError(.badPayload("health: unknown health tag 9"), sequence: 1)) {
            try ControlMessage(frame: Frame(kind: .health, sequence: 1, payload: [9]))
        }
    }

    @Test func rejectsADuplicateCounter() {
        var payload: [UInt8] = [0, 0, 0, 0, 2, 0, 0, 0]
        for _ in 0..<2 { payload += [1, 0, 0, 0, 0x78] + [UInt8](repeating: 0, count: 8) }
        #expect(throws: WireError(.badPayload("progress: duplicate counter 'x'"), sequence: 0)) {
            try ControlMessage(frame: Frame(kind: .progress, sequence: 0, payload: payload))
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: WireError(.badPayload("progress: the stage is not valid UTF-8"), sequence: 0)) {
            try ControlMessage(frame: Frame(kind: .progress, sequence: 0, payload: [1, 0, 0, 0, 0xFF, 0, 0, 0, 0]))
        }
    }

    @Test func rejectsEveryTruncationOfEveryMessage() {
        for message in Self.messages {
            let payload = message.payload
            // An empty `ready` is a whole message (a worker that reports no build).
            let shortest = message.kind == .ready ? 1 : 0
            for length in shortest..<max(shortest, payload.count) {
                #expect(throws: WireError.self, "\(message) cut at \(length)") {
                    try ControlMessage(frame: Frame(kind: message.kind, sequence: 0, payload: Array(payload[..<length])))
                }
            }
        }
    }

    @Test func rejectsAHugeCounterCountWithoutAllocating() throws {
        let payload: [UInt8] = [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        let error = try #require(throws: WireError.self) {
            try ControlMessage(frame: Frame(kind: .progress, sequence: 0, payload: payload))
        }
        #expect(error.description.contains("the counter count claims 4294967295 entries"))
    }
}
