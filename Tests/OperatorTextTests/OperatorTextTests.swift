import Foundation
import OperatorText
import Testing

struct OperatorTextTests {
    @Test func plainTextIsUnchanged() {
        for text in ["", "pump P_001 at 2000-01-01 08:00:00: pressure 1000000.0 outside 0.0…50.0", "é ü 日本 🚂", #"a\nb \\ "q""#] {
            #expect(OperatorText.escaped(text) == text)
            #expect(OperatorText.isSafe(text))
        }
    }

    @Test func newlinesAndEscapeSequencesAreShownEscaped() {
        let forged = "P_001\n12:00:00.000 NOTICE cidp.supervisor: Supervisor stopped exit.code=0\r\t\u{1B}[2K\u{1B}]0;title\u{07}"
        #expect(OperatorText.escaped(forged)
            == #"P_001\n12:00:00.000 NOTICE cidp.supervisor: Supervisor stopped exit.code=0\r\t\u001b[2K\u001b]0;title\u0007"#)
    }

    @Test func everyControlCategoryIsEscaped() {
        let scalars: [UInt32] = Array(0x00...0x1F) + [0x7F] + Array(0x80...0x9F)
            + [0x2028, 0x2029, 0x061C, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069]
        for value in scalars {
            let scalar = Unicode.Scalar(value)!
            let text = "a" + String(Character(scalar)) + "b"
            let shown = OperatorText.escaped(text)
            #expect(OperatorText.isSafe(shown), "U+\(String(value, radix: 16)) survived: \(shown.debugDescription)")
            #expect(shown.hasPrefix("a\\") && shown.hasSuffix("b"))
        }
        #expect(OperatorText.escaped("\u{9B}31m") == "\\u009b31m")
        #expect(OperatorText.escaped("\u{202E}txt.exe") == "\\u202etxt.exe")
        #expect(OperatorText.escaped("\u{0}") == "\\u0000")
    }

    @Test func escapingTwiceChangesNothing() {
        let once = OperatorText.escaped("a\nb\u{1B}[31m\\c")
        #expect(OperatorText.escaped(once) == once)
        #expect(OperatorText.escapedJSON(once) == once)
    }

    @Test func jsonStaysJSONAndParsesToTheSameValue() throws {
        // As a lenient writer might have stored it: DEL, a C1 CSI and a bidi override raw in strings.
        let json = "[{\"pump_id\":\"P_\u{7F}\u{9B}2J\u{202E}1\",\"note\":\"ok \\\" \\n \\u001b\"}]"
        let shown = OperatorText.escapedJSON(json)
        #expect(OperatorText.isSafe(shown))
        #expect(shown == #"[{"pump_id":"P_\u007f\u009b2J\u202e1","note":"ok \" \n \u001b"}]"#)
        let original = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: String]]
        let parsed = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [[String: String]]
        #expect(parsed == original && parsed != nil)
    }

    @Test func prettyPrintedJSONKeepsItsLines() {
        let json = "{\n  \"reason\" : \"a\\nb\",\n\t\"x\" : 1\r\n}"
        #expect(OperatorText.escapedJSON(json) == json)
        #expect(OperatorText.escapedJSON("{}\u{1B}[2J") == "{}\\u001b[2J")
    }
}
