import Foundation
import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Data channels between workers are held by the supervisor, so they outlive the workers at
/// either end: the foundation of a one-for-one restart of one stage of the chain.
@Suite(.timeLimit(.minutes(1)))
struct DataChannelTests {
    /// `got VALUE PID` lines of the consumer record.
    func received(_ path: String) -> [(value: Int, pid: Int32)] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[0] == "got", let value = Int(fields[1]), let pid = Int32(fields[2]) else { return nil }
            return (value, pid)
        }
    }

    @Test func aKilledReaderIsReplacedAndReadsOnWhileTheWriterKeepsItsPid() throws {
        let count = 400
        let sandbox = try Sandbox(policy: flatPolicy(workers: [
            ("producer", #"args = ["--produce", "\#(count)"]"#),
            ("consumer", """
                args = ["--consume", "$SANDBOX/consumed.txt"]
                input = "producer"
                """),
        ]))
        let consumed = sandbox.path + "/consumed.txt"
        let supervisor = try sandbox.up()
        let before = try supervisor.waitForAllRunning()
        let firstReader = try #require(before["consumer"])

        // Kill the reader mid-stream.
        #expect(poll { received(consumed).count >= 50 }, "the consumer read nothing")
        kill(firstReader, SIGKILL)

        // The next reader reads on to the last frame; the writer never noticed.
        let finished = poll { received(consumed).last?.value == count - 1 }
        #expect(finished, "stream did not finish: \(received(consumed).suffix(3))")
        let after = try supervisor.pids()
        #expect(after["producer"] == before["producer"], "the writer was restarted")
        #expect(after["consumer"] != firstReader)

        let values = received(consumed).map(\.value)
        // Strictly increasing: nothing delivered twice, nothing reordered.
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 })
        // At most the one frame the killed reader had taken but not yet recorded is missing.
        let missing = Set(0..<count).subtracting(values)
        #expect(missing.count <= 1, "missing \(missing.sorted())")
        // Both incarnations of the reader took part.
        #expect(Set(received(consumed).map(\.pid)) == [firstReader, try #require(after["consumer"])])
    }
}
