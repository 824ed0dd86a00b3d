import ArgumentParser
import Supervisor

/// `cidp`: the supervisor tree and its control commands.
struct Cidp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cidp",
        abstract: "Camrail Industrial Data Platform: a supervised, crash-proof sensor-data pipeline.",
        discussion: "Exit codes: 0 success; 1 halted, failed or gave up (integrity gate, source, restart intensity); "
            + "2 usage or configuration error, nothing started; 3 a job interrupted before it was done.",
        subcommands: [Up.self, Status.self, Restart.self, Resume.self, Stop.self, Start.self, Reload.self, Upgrade.self, LogsCommand.self, ModelsCommand.self, QuarantineCommand.self, BackupCommand.self,
                      RestoreCommand.self, CheckpointCommand.self, DrillCommand.self, Worker.self, RootHandoverFormat.self]
    )
}

/// Ends the process with a code and a one-line message on stderr.
struct CLIExit: Error {
    var code: Int32
    var message: String

    static func usage(_ message: String) -> CLIExit { CLIExit(code: 2, message: message) }
}

/// `--run-dir`, shared by every command that talks to a running supervisor.
struct RunDirectoryOption: ParsableArguments {
    @Option(name: .long, help: "Directory of the control socket and lock file.")
    var runDir: String = "run"

    var runDirectory: RunDirectory { RunDirectory(path: runDir) }

    /// Sends a request. A missing supervisor ends the process with exit 2; a reply with an error
    /// with the code the supervisor gives (2 refused, nothing changed; 1 begun and not done).
    func send(_ request: ControlRequest, waitForExit: Bool = false) throws -> ControlReply {
        let reply: ControlReply
        do {
            reply = try ControlClient(runDirectory: runDirectory).send(request, waitForExit: waitForExit)
        } catch {
            throw CLIExit.usage("\(error)")
        }
        guard reply.ok else { throw CLIExit(code: reply.code ?? ExitCode.usage, message: reply.error ?? "request refused") }
        return reply
    }
}
