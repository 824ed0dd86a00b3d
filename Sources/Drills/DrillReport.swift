import Foundation
import OperatorText

/// One verified property of a drill: what the system had to do and what it did.
public struct DrillCheck: Equatable {
    var name: String
    var passed: Bool
    var expected: String
    var observed: String

    /// `PASS  name  expected …  observed …`, one line; what it observed may quote the system's
    /// output and the warehouse (a gate's reason), so it is shown through `OperatorText.escaped`.
    var line: String {
        "\(passed ? "PASS" : "FAIL")  \(name)  expected \(Self.oneLine(expected))  observed \(Self.oneLine(observed))"
    }

    private static func oneLine(_ text: String) -> String {
        OperatorText.escaped(text.split(whereSeparator: \.isNewline).joined(separator: " / "))
    }
}

/// The verdict of one drill, built check by check and printed as it goes.
public struct DrillReport {
    let drill: String
    private(set) var checks: [DrillCheck] = []
    /// A few words for the summary of `cidp drill all`: the evidence that matters most.
    var keyEvidence: [String] = []
    public var duration: Duration = .zero
    /// Where each check line goes as it is recorded (stdout for the command, nowhere in tests).
    let emit: (String) -> Void

    public init(drill: String, emit: @escaping (String) -> Void) {
        self.drill = drill
        self.emit = emit
    }

    /// Records and prints one check.
    public mutating func check(_ name: String, _ passed: Bool, expected: String, observed: String) {
        let check = DrillCheck(name: name, passed: passed, expected: expected, observed: observed)
        checks.append(check)
        emit(check.line)
    }

    /// A drill passes only if it checked something and every check held.
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }

    var failedChecks: [DrillCheck] { checks.filter { !$0.passed } }

    /// `drill NAME: PASS` or `drill NAME: FAIL`.
    public var verdictLine: String { "drill \(drill): \(passed ? "PASS" : "FAIL")" }

    /// The summary's evidence column: the key evidence, and on failure the checks that failed.
    var summaryEvidence: String {
        let failures = failedChecks.isEmpty ? [] : ["failed: " + failedChecks.map(\.name).joined(separator: ", ")]
        return (keyEvidence + failures).joined(separator: "; ")
    }
}

/// The table `cidp drill all` ends with: drill, verdict, duration, key evidence.
public enum DrillSummary {
    public static func table(_ reports: [DrillReport]) -> String {
        var rows = [["DRILL", "VERDICT", "DURATION", "KEY EVIDENCE"]]
        for report in reports {
            rows.append([report.drill, report.passed ? "PASS" : "FAIL", report.duration.formattedSeconds, report.summaryEvidence])
        }
        return TextTable.lines(rows).joined(separator: "\n")
    }
}
