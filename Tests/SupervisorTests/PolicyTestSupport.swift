import Supervisor
import Testing

/// Shared fixtures for the policy tests.
enum PolicyFixture {
    static let executable = "/opt/cidp/bin/cidp"
    static let roles: Set<String> = ["sensor-sim", "extractor", "transformer", "loader", "trainer", "predictor", "test"]

    /// The smallest valid policy; fixtures that break one thing start from it.
    static let minimal = """
        [supervisor]
        children = ["a"]

        [workers.a]
        role = "test"
        """

    static func parse(_ text: String) throws(PolicyError) -> Policy {
        try PolicyLoader.parse(text: text, file: "p.toml", executable: executable, knownRoles: roles)
    }

    /// The description of the error `text` is rejected with, or nil if it is accepted.
    static func rejection(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    /// The package root, found from this file's path, so tests do not depend on the working directory.
    static var packageRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/SupervisorTests/PolicyTestSupport.swift
        return parts.joined(separator: "/")
    }
}

/// One rejected fixture and the exact line it must be reported with.
struct RejectedPolicy: Sendable, CustomTestStringConvertible {
    var kind: String
    var text: String
    var expected: String

    var testDescription: String { kind }
}
