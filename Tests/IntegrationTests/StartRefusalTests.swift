import Foundation
import Supervisor
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A refused `cidp up` leaves the file system as it found it, byte for byte; one tree per
/// warehouse, whatever its run directory; lock files and run directories another user could
/// plant are refused, never followed.
@Suite(.timeLimit(.minutes(2)))
struct StartRefusalTests {
    /// Every entry under `directory`: its kind, permission bits and contents (a link's target).
    static func snapshot(_ directory: String) -> [String: String] {
        var entries: [String: String] = [:]
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: directory) else { return [:] }
        while let relative = walker.nextObject() as? String {
            let path = directory + "/" + relative
            var status = stat()
            guard lstat(path, &status) == 0 else { continue }
            let mode = String(status.st_mode & 0o7777, radix: 8)
            switch status.st_mode & S_IFMT {
            case S_IFDIR: entries[relative] = "dir \(mode)"
            case S_IFLNK: entries[relative] = "link -> " + ((try? manager.destinationOfSymbolicLink(atPath: path)) ?? "?")
            case S_IFREG:
                let bytes = manager.contents(atPath: path) ?? Data()
                entries[relative] = "file \(mode) \(bytes.count) bytes: " + bytes.base64EncodedString()
            default: entries[relative] = "other \(mode)"
            }
        }
        return entries
    }

    /// A fresh working directory holding only the default policy, as an operator's would.
    static func workdir(in sandbox: Sandbox, _ name: String) throws -> String {
        let path = sandbox.path + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: sandbox.policyPath, toPath: path + "/policy.toml")
        return path
    }

    /// Runs `cidp ARGS` in `directory`, its output kept outside it.
    static func cidp(_ arguments: [String], in directory: String, sandbox: Sandbox) throws -> (code: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cidpBinary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let err = sandbox.path + "/refused.\(UUID().uuidString).err"
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        let finished = poll(timeout: .seconds(30)) { !process.isRunning }
        if !finished { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (finished ? process.terminationStatus : -1, (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Runs a start that must be refused in `directory`: exit 2, one line, nothing changed there.
    static func expectRefusal(_ arguments: [String], in directory: String, sandbox: Sandbox, saying text: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = snapshot(directory)
        let run = try cidp(arguments, in: directory, sandbox: sandbox)
        #expect(run.code == 2, "\(run.stderr)", sourceLocation: sourceLocation)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains(text), "\(run.stderr)", sourceLocation: sourceLocation)
        let after = snapshot(directory)
        let changed = Set(after.keys).symmetricDifference(before.keys).sorted() + before.filter { after[$0.key] != $0.value }.keys.sorted()
        #expect(after == before, "the refused start changed \(changed)", sourceLocation: sourceLocation)
    }

    @Test func aBadArgumentOrAnUnusableRunDirectoryChangesNothing() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let work = try Self.workdir(in: sandbox, "work")
        // A run directory left from an earlier night, with its lock file and its pid in it.
        try FileManager.default.createDirectory(atPath: work + "/run", withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        try "12345\n".write(toFile: work + "/run/cidp.lock", atomically: false, encoding: .utf8)
        try Self.expectRefusal(["up", "--policy", "policy.toml", "--log-level", "loud"], in: work, sandbox: sandbox,
                               saying: "--log-level")
        // The run directory cannot be made: its parent is a file.
        try "a file\n".write(toFile: work + "/notes", atomically: false, encoding: .utf8)
        try Self.expectRefusal(["up", "--policy", "policy.toml", "--run-dir", "notes/run"], in: work, sandbox: sandbox,
                               saying: "notes/run")
        // A run directory others may write to: they could plant the lock or the socket.
        try FileManager.default.createDirectory(atPath: work + "/open", withIntermediateDirectories: false)
        chmod(work + "/open", 0o777)
        try Self.expectRefusal(["up", "--policy", "policy.toml", "--run-dir", "open"], in: work, sandbox: sandbox,
                               saying: "writable by other users")
    }

    @Test func aPlantedLockLinkOrAFileAtTheSocketPathIsRefusedNeverFollowedNorDeleted() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let work = try Self.workdir(in: sandbox, "work")
        let target = sandbox.path + "/precious"
        try "do not truncate\n".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: work + "/run", withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.createSymbolicLink(atPath: work + "/run/cidp.lock", withDestinationPath: target)
        try Self.expectRefusal(["up", "--policy", "policy.toml"], in: work, sandbox: sandbox, saying: "symbolic link")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "do not truncate\n")

        try FileManager.default.removeItem(atPath: work + "/run/cidp.lock")
        try "not a socket\n".write(toFile: work + "/run/cidp.sock", atomically: false, encoding: .utf8)
        try Self.expectRefusal(["up", "--policy", "policy.toml"], in: work, sandbox: sandbox, saying: "is not a socket")
    }

    @Test func aSecondTreeOnTheSameWarehouseIsRefusedWhateverItsRunDirectoryNamingTheFirst() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try sandbox.up(["--db", db, "--records", "2000", "--follow"])
        defer { _ = try? first.stop() }
        _ = try first.waitForAllRunning()

        // Another run directory, the same warehouse.
        let work = try Self.workdir(in: sandbox, "second")
        let before = Self.snapshot(work)
        let run = try Self.cidp(["up", "--policy", "policy.toml", "--db", db], in: work, sandbox: sandbox)
        #expect(run.code == 2, "\(run.stderr)")
        let line = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(line.contains("--db: '\(db)' is in use by another tree (cidp up pid \(first.pid); run directory \(sandbox.runDirectory))"),
                "\(run.stderr)")
        #expect(Self.snapshot(work) == before)

        // The same run directory, another warehouse: the run lock refuses it first; its warehouse is not created.
        let other = sandbox.path + "/other/dwh.sqlite"
        let lockBefore = try String(contentsOfFile: sandbox.runDirectory + "/cidp.lock", encoding: .utf8)
        let beside = try Self.cidp(["up", "--policy", "policy.toml", "--run-dir", sandbox.runDirectory, "--db", other],
                                   in: work, sandbox: sandbox)
        #expect(beside.code == 2 && beside.stderr.contains("another cidp supervisor is already running in"), "\(beside.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path + "/other"))
        #expect(try String(contentsOfFile: sandbox.runDirectory + "/cidp.lock", encoding: .utf8) == lockBefore)
        #expect(Self.snapshot(work) == before)

        // The first tree is untouched.
        #expect(try first.status().find("loader")?.state == "running")
    }

    @Test func aWarehouseFreedByAKilledTreeCanBeTakenAgain() throws {
        let sandbox = try Sandbox(policy: try EtlTests.defaultPolicy())
        let db = sandbox.path + "/dwh.sqlite"
        let first = try sandbox.up(["--db", db, "--records", "2000", "--follow"])
        _ = try first.waitForAllRunning()
        kill(first.pid, SIGKILL)
        _ = first.waitForExit()
        // flock dies with its holder: no stale lock to clean up by hand.
        let work = try Self.workdir(in: sandbox, "again")
        let next = try Self.cidp(["up", "--policy", "policy.toml", "--db", db, "--records", "3000"], in: work, sandbox: sandbox)
        #expect(next.code == 0, "\(next.stderr)")
        #expect(try Warehouse(path: db, busyTimeout: .seconds(5)).rowCount() == 3000)
    }
}
