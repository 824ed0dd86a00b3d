import Foundation
import Supervisor
import Testing
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A source behind a credential (issue 13, item 2): the extractor reads it from a file or an
/// environment variable named in the policy, and it is in no command line, status, log or error.
@Suite(.timeLimit(.minutes(3)))
struct ForeignSourceAuthTests {
    /// Everything the root wrote: its JSON log files (rotated ones too) and its console output.
    static func everythingLogged(_ sandbox: Sandbox, console: String) -> String {
        let directory = sandbox.path + "/logs"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        #expect(files.contains("cidp.log"), "no root log in \(directory): \(files)")
        return files.map { (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)) ?? "" }.joined() + console
    }

    @Test func aBearerTokenFromTheEnvironmentIsInNoCommandLineStatusOrLog() throws {
        let token = "tok-" + UUID().uuidString
        let policy = try EtlTests.defaultPolicy().withExtractor(#"source = { auth = "bearer", auth_token_env = "CIDP_SOURCE_TOKEN" }"#)
        let sandbox = try Sandbox(policy: policy)
        let source = try ForeignSource(sandbox, records: 2500, settings: ["auth": "Bearer \(token)"])
        let db = sandbox.path + "/dwh.sqlite"
        let supervisor = try sandbox.up(environment: ["CIDP_SOURCE_TOKEN": token], ["--db", db, "--source", source.url, "--follow"])
        // --follow loads full pages only: 2000 of the 2500 records.
        let loaded = poll(timeout: .seconds(60)) { (try? Warehouse(path: db, busyTimeout: .seconds(1)).rowCount()) ?? 0 >= 2000 }
        #expect(loaded, "\(supervisor.log.suffix(2000))")
        let pid = try #require(try supervisor.status().pid(of: "extractor"))
        let commandLine = String(decoding: (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()).map { $0 == 0 ? 32 : $0 },
                                 as: UTF8.self)
        #expect(commandLine.contains("--auth-token-env CIDP_SOURCE_TOKEN"), "\(commandLine)")
        let status = try sandbox.cidp(["status", "--json", "--run-dir", sandbox.runDirectory])
        #expect(status.code == 0 && status.stdout.contains("\"extractor\""), "\(status)")
        #expect(try supervisor.stop() == 0)
        for (place, text) in [("the command line", commandLine), ("cidp status --json", status.stdout + status.stderr),
                              ("the logs", Self.everythingLogged(sandbox, console: supervisor.log))] {
            #expect(!text.contains(token), "the token is in \(place)")
        }
        #expect(!source.requests.isEmpty && source.requests.allSatisfy(\.isAuthorized))
    }

    @Test func basicCredentialsFromAFileLoadAndAWrongOneIsRefusedWithoutBeingPrinted() throws {
        let secret = "cidp:pw-" + UUID().uuidString
        let wrong = "cidp:wrong-" + UUID().uuidString
        let sandbox = try Sandbox(policy: "")
        let credential = sandbox.path + "/source.credential"
        try (secret + "\n").write(toFile: credential, atomically: true, encoding: .utf8)
        chmod(credential, 0o600)
        try EtlTests.defaultPolicy().withExtractor("source = { auth = \"basic\", auth_token_file = \"\(credential)\" }")
            .write(toFile: sandbox.policyPath, atomically: true, encoding: .utf8)
        let source = try ForeignSource(sandbox, records: 2500, settings: ["auth": "Basic " + Data(secret.utf8).base64EncodedString()])

        let good = try NightlyJobTests.job(sandbox, db: sandbox.path + "/good.sqlite", ["--source", source.url])
        #expect(good.code == 0, "\(good.stderr.suffix(2000))")
        try EtlTests.checkWarehouse(sandbox.path + "/good.sqlite", count: 2500)

        // The server answers 401 quoting the header it got; the error line must not.
        try (wrong + "\n").write(toFile: credential, atomically: true, encoding: .utf8)
        let refused = try NightlyJobTests.job(sandbox, db: sandbox.path + "/refused.sqlite", ["--source", source.url])
        #expect(refused.code == 1, "\(refused.stderr.suffix(2000))")
        let line = refused.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.contains("HTTP status 401: {\"error\": \"unauthorized\", \"got\": \"Basic <redacted>\"}"), "\(line)")
        let everything = Self.everythingLogged(sandbox, console: good.stdout + good.stderr + refused.stdout + refused.stderr)
        for text in [secret, wrong, Data(secret.utf8).base64EncodedString(), Data(wrong.utf8).base64EncodedString()] {
            #expect(!everything.contains(text), "a credential is in the logs or the output")
        }
        #expect(source.requests.contains { !$0.isAuthorized } && source.requests.contains { $0.isAuthorized })
    }
}
