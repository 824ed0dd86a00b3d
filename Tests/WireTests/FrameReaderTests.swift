import Glibc
import Testing
@testable import Wire

@Suite struct FrameReaderTests {
    @Test func returnsNilAtACleanEndOfFile() throws {
        let pair = try DescriptorPair.pipe()
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "empty")
        #expect(try reader.read() == nil)
        #expect(try reader.read() == nil)
    }

    @Test func reportsEndOfFileInsideAFrameAsTruncated() throws {
        let pair = try DescriptorPair.pipe()
        let bytes = Frame(kind: .recordBatch, sequence: 5, payload: Array(repeating: 1, count: 100)).encoded()
        pair.writeRaw(Array(bytes[..<60]))
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "cut")
        #expect(throws: WireError(.truncated(remaining: 60), channel: "cut", sequence: 5)) { try reader.read() }
    }

    @Test func keepsMessageBoundariesOnASeqpacketSocket() throws {
        let pair = try DescriptorPair.socketPair(SOCK_SEQPACKET)
        var writer = FrameWriter(fd: pair.write, channel: "control")
        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try writer.send(kind: .ready)
        try writer.send(kind: .recordBatch, payload: large)
        try writer.send(kind: .heartbeat)
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "control")
        #expect(try reader.read() == Frame(kind: .ready, sequence: 0))
        #expect(try reader.read() == Frame(kind: .recordBatch, sequence: 1, payload: large))
        #expect(try reader.read() == Frame(kind: .heartbeat, sequence: 2))
        #expect(try reader.read() == nil)
    }

    @Test func readsEverythingAvailableWithoutBlocking() throws {
        let pair = try DescriptorPair.socketPair(SOCK_STREAM)
        pair.makeReadNonblocking()
        var writer = FrameWriter(fd: pair.write, channel: "epoll")
        var reader = FrameReader(fd: pair.read, channel: "epoll")
        #expect(try reader.readAvailable() == .frames([]))
        for _ in 0..<3 { try writer.send(kind: .heartbeat) }
        #expect(try reader.readAvailable() == .frames((0..<3).map { Frame(kind: .heartbeat, sequence: $0) }))
        try writer.send(kind: .endOfStream)
        pair.closeWrite()
        #expect(try reader.readAvailable() == .endOfFile([Frame(kind: .endOfStream, sequence: 3)]))
        #expect(try reader.readAvailable() == .endOfFile([]))
    }

    @Test func returnsTheFramesBeforeAnErrorThenTheError() throws {
        let pair = try DescriptorPair.pipe()
        pair.makeReadNonblocking()
        let good = (0..<2).map { Frame(kind: .ack, sequence: $0, payload: [UInt8($0)]) }
        var bad = Frame(kind: .ack, sequence: 2, payload: [2]).encoded()
        bad[20] ^= 0xFF
        pair.writeRaw(good.flatMap { $0.encoded() } + bad + Frame(kind: .ack, sequence: 3).encoded())
        var reader = FrameReader(fd: pair.read, channel: "mixed")
        #expect(try reader.readAvailable() == .frames(good))
        let error = try #require(throws: WireError.self) { try reader.readAvailable() }
        guard case .badChecksum = error.code else { Issue.record("\(error)"); return }
        #expect(error.sequence == 2)
        reader.resynchronise()
        reader.decoder.expectedSequence = nil
        #expect(try reader.readAvailable() == .frames([Frame(kind: .ack, sequence: 3)]))
    }

    @Test func reportsEndOfFileInsideAFrameFromReadAvailable() throws {
        let pair = try DescriptorPair.pipe()
        pair.makeReadNonblocking()
        let frame = Frame(kind: .heartbeat, sequence: 0)
        pair.writeRaw(frame.encoded() + [0xC1, 0xD9, 2])
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "cut")
        #expect(try reader.readAvailable() == .frames([frame]))
        #expect(throws: WireError(.truncated(remaining: 3), channel: "cut")) { try reader.readAvailable() }
    }
}
