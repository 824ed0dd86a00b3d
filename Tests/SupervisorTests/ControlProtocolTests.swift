@testable import cidp
import Foundation
import Testing
@testable import Supervisor

/// Request lines and the status a halted tree shows.
@Suite struct ControlProtocolTests {
    @Test func parsesResumeWithAndWithoutANode() {
        #expect(ControlRequest(line: "resume") == .resume(nil))
        #expect(ControlRequest(line: "resume etl") == .resume("etl"))
        #expect(ControlRequest(line: "resume etl ml") == nil)
        #expect(ControlRequest.resume(nil).line == "resume")
        #expect(ControlRequest.resume("etl").line == "resume etl")
    }

    static func haltedTree() -> StatusTree {
        var driver = bootedDriver(root([worker("sim"), node("etl", .restForOne, [worker("extractor"), worker("transformer")])]))
        driver.halt("transformer", "batch 17: checksum mismatch")
        driver.die("transformer")
        driver.die("extractor")
        return StatusTree(driver.tree.snapshot(now: driver.now))
    }

    @Test func statusJSONGivesTheHaltedStateReasonAndWhoHalted() throws {
        let data = try JSONEncoder().encode(Self.haltedTree())
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let etl = try #require((root["children"] as? [[String: Any]])?.first { $0["name"] as? String == "etl" })
        #expect(etl["state"] as? String == "halted")
        #expect(etl["reason"] as? String == "batch 17: checksum mismatch")
        #expect(etl["halted_by"] as? String == "transformer")
        for child in try #require(etl["children"] as? [[String: Any]]) {
            #expect(child["state"] as? String == "halted")
            #expect(child["reason"] as? String == "batch 17: checksum mismatch")
            #expect(child["pid"] == nil)
        }
    }

    @Test func statusTableShowsWhoHaltedAndWhyOnceOnTheNode() {
        let lines = Self.haltedTree().renderTable().split(separator: "\n").map(String.init)
        let etl = lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("etl ") }
        #expect(etl?.hasSuffix("halted by transformer: batch 17: checksum mismatch") == true, "\(lines)")
        #expect(lines.filter { $0.contains("checksum mismatch") }.count == 1, "\(lines)")
        for name in ["extractor", "transformer"] {
            let line = lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") }
            #expect(line?.contains(" halted ") == true, "\(lines)")
            #expect(line?.hasSuffix("halted with etl") == true, "\(lines)")
        }
        #expect(lines.first { $0.hasPrefix("  sim ") }?.contains("running") == true, "\(lines)")
    }
}
