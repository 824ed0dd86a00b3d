import Glibc
import Testing
@testable import Wire

@Suite struct FrameWriterTests {
    @Test func numbersFramesConsecutivelyFromTheFirstSequence() throws {
        let pair = try DescriptorPair.pipe()
        var writer = FrameWriter(fd: pair.write, channel: "numbers", firstSequence: 40)
        #expect(try writer.send(kind: .heartbeat) == 40)
        #expect(try writer.send(kind: .progress, payload: [1, 2]) == 41)
        #expect(writer.nextSequence == 42)
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "numbers", expectedSequence: 40)
        #expect(try reader.read() == Frame(kind: .heartbeat, sequence: 40))
        #expect(try reader.read() == Frame(kind: .progress, sequence: 41, payload: [1, 2]))
        #expect(try reader.read() == nil)
    }

    @Test func refusesAnOversizedPayloadWithoutWritingOrAdvancing() throws {
        let pair = try DescriptorPair.pipe()
        var writer = FrameWriter(fd: pair.write, channel: "big")
        let error = try #require(throws: WireError.self) {
            try writer.send(kind: .recordBatch, payload: [UInt8](repeating: 0, count: Frame.maxPayload + 1))
        }
        #expect(error == WireError(.oversized(length: UInt32(Frame.maxPayload + 1)), channel: "big", sequence: 0))
        #expect(writer.nextSequence == 0)
        pair.closeWrite()
        var reader = FrameReader(fd: pair.read, channel: "big")
        #expect(try reader.read() == nil)
    }

    @Test func reportsAPipeWithoutReaderAsClosed() throws {
        signal(SIGPIPE, SIG_IGN)
        let pair = try DescriptorPair.pipe()
        pair.closeRead()
        var writer = FrameWriter(fd: pair.write, channel: "gone")
        #expect(throws: WireError(.closed, channel: "gone", sequence: 0)) { try writer.send(kind: .ready) }
    }

    @Test func reportsASocketWithoutPeerAsClosedWithoutSIGPIPE() throws {
        for type in [SOCK_STREAM, SOCK_SEQPACKET] {
            let pair = try DescriptorPair.socketPair(type)
            pair.closeRead()
            var writer = FrameWriter(fd: pair.write, channel: "gone")
            #expect(throws: WireError(.closed, channel: "gone", sequence: 0)) { try writer.send(kind: .ready) }
        }
    }

    @Test func writesAOneMebibytePayloadThroughPartialWrites() throws {
        for pair in [try DescriptorPair.pipe(), try DescriptorPair.socketPair(SOCK_STREAM)] {
            let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            let fd = pair.write
            let writerThread = TestThread {
                var writer = FrameWriter(fd: fd, channel: "big")
                do {
                    try writer.send(kind: .recordBatch, payload: payload)
                    try writer.send(kind: .endOfStream)
                } catch {
                    Issue.record("\(error)")
                }
            }
            var reader = FrameReader(fd: pair.read, channel: "big")
            #expect(try reader.read() == Frame(kind: .recordBatch, sequence: 0, payload: payload))
            #expect(try reader.read() == Frame(kind: .endOfStream, sequence: 1))
            writerThread.join()
            pair.closeWrite()
            #expect(try reader.read() == nil)
        }
    }

    @Test func waitsOnANonblockingDescriptorInsteadOfWritingHalfAFrame() throws {
        let pair = try DescriptorPair.pipe()
        pair.makeWriteNonblocking()
        let payload = [UInt8](repeating: 0xA5, count: 300_000)
        let fd = pair.write
        let writerThread = TestThread {
            var writer = FrameWriter(fd: fd, channel: "nonblocking")
            do { try writer.send(kind: .recordBatch, payload: payload) } catch { Issue.record("\(error)") }
        }
        var reader = FrameReader(fd: pair.read, channel: "nonblocking")
        #expect(try reader.read()?.payload == payload)
        writerThread.join()
    }
}
