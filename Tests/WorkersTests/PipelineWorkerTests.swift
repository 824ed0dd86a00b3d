import Foundation
import Testing
import Pipeline
import Posix
import Wire
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline roles' command lines and the data channel's checks, without processes.
@Suite struct PipelineWorkerTests {
    @Test func transformerRangesComeFromItsArguments() throws {
        let worker = try TransformerWorker(arguments: ["--db", "x.sqlite", "--range", "pressure=1:9", "--range", "temperature=-10.5:80"])
        #expect(worker.rules.pressure == 1...9)
        #expect(worker.rules.temperature == -10.5...80)
        #expect(worker.rules.flowRate == ValidationRules().flowRate)
    }

    @Test(arguments: [
        (["--range", "pressure=1:9"], "missing required option --db"),
        (["--db", "x", "--range", "humidity=1:2"], "--range expects READING=MIN:MAX"),
        (["--db", "x", "--range", "pressure=9:1"], "--range expects READING=MIN:MAX"),
        (["--db", "x", "--range", "pressure=1"], "--range expects READING=MIN:MAX"),
        (["--db", "x", "--range", "pressure=nan:1"], "--range expects READING=MIN:MAX"),
        (["--db", "x", "--window", "0"], "--window expects an integer in 1...1024, got '0'"),
        (["--db", "x", "--bogus"], "unknown option '--bogus'"),
    ])
    func transformerRejectsBadArguments(arguments: [String], message: String) {
        #expect {
            try TransformerWorker(arguments: arguments)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func extractorAndLoaderNameTheirBadArguments() {
        #expect { try ExtractorWorker(arguments: ["--db", "x"]) } throws: { "\($0)".contains("missing required option --source") }
        #expect { try ExtractorWorker(arguments: ["--db", "x", "--source", "ftp://h"]) } throws: { "\($0)".contains("http:// or https://") }
        #expect { try LoaderWorker(arguments: ["--job"]) } throws: { "\($0)".contains("missing required option --db") }
        #expect { try LoaderWorker(arguments: ["--db", "x", "--lock-deadline-ms", "-1"]) } throws: { "\($0)".contains("--lock-deadline-ms") }
    }

    /// A corrupt frame on a data channel is detected and named, and nothing of it is returned.
    @Test func aCorruptFrameOnADataChannelIsRejectedWithItsChannelAndSequence() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var reader = try DataChannel(fd: FileDescriptor(rawValue: fds[1]), name: "extractor→transformer")
        // The writer's side, by hand: a hello, a good batch, then the same batch with one byte flipped.
        let batch = RecordBatch(batchID: 1, cursor: "1000", records: [])
        let hello = Frame(kind: .hello, sequence: 0, payload: []).encoded()
        let good = Frame(kind: .recordBatch, sequence: 1, payload: batch.encoded()).encoded()
        var bad = Frame(kind: .recordBatch, sequence: 2, payload: batch.encoded()).encoded()
        bad[bad.count - 1] ^= 0x40
        for frame in [hello, good, bad] { _ = frame.withUnsafeBytes { write(fds[0], $0.baseAddress, $0.count) } }
        var received: [Frame] = []
        do {
            received = try reader.receive()
            _ = try reader.receive()
            Issue.record("the corrupt frame was not detected")
        } catch {
            #expect(error.description.contains("extractor→transformer"), "\(error)")
            #expect(error.description.contains("checksum"), "\(error)")
        }
        #expect(received.map(\.sequence) == [1], "only the good frame is delivered")
    }

    /// A gap in a writer incarnation's sequence is a transport error; a new incarnation's hello resets it.
    @Test func sequenceGapsAreErrorsAndHellosStartOver() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var reader = try DataChannel(fd: FileDescriptor(rawValue: fds[1]), name: "transformer→loader")
        let frames = [Frame(kind: .hello, sequence: 0), Frame(kind: .ack, sequence: 1, payload: BatchAck(batchID: 1).encoded()),
                      Frame(kind: .hello, sequence: 0), Frame(kind: .ack, sequence: 1, payload: BatchAck(batchID: 2).encoded()),
                      Frame(kind: .ack, sequence: 3, payload: BatchAck(batchID: 3).encoded())]
        for frame in frames { _ = frame.encoded().withUnsafeBytes { write(fds[0], $0.baseAddress, $0.count) } }
        #expect {
            _ = try reader.receive()
        } throws: { error in
            "\(error)".contains("transformer→loader") && "\(error)".contains("3")
        }
    }
}
