import ArgumentParser
import Foundation
import OperatorText
import Supervisor

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the tree: name, state, pid, restarts, uptime.")

    @OptionGroup var control: RunDirectoryOption
    @Flag(help: "Print the tree as JSON.") var json = false

    func run() throws {
        let reply = try control.send(.status)
        guard let tree = reply.tree else { throw CLIExit.usage("the supervisor sent no tree") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            // JSON stays JSON: what the encoder left raw (DEL, C1, bidi controls) becomes \u escapes.
            print(OperatorText.escapedJSON(String(decoding: try encoder.encode(tree), as: UTF8.self)))
        } else {
            print(tree.renderTable())
        }
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restart a worker (or node) with its node's strategy; returns once it is ready again.")

    @OptionGroup var control: RunDirectoryOption
    @Argument(help: "The worker or node name, as in 'cidp status'.") var worker: String

    func run() throws {
        let reply = try control.send(.restart(worker))
        print(OperatorText.escaped(reply.message ?? "restarted '\(worker)'"))
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a halted node's workers again, in order; returns once it is running again.",
        discussion: "Without NODE, every halted node is resumed. Exits 1 when nothing (or not NODE) is halted, or when it halts again.")

    @OptionGroup var control: RunDirectoryOption
    @Argument(help: "The halted node (or worker), as in 'cidp status'; all halted ones when omitted.") var node: String?

    func run() throws {
        let reply: ControlReply
        do {
            reply = try ControlClient(runDirectory: control.runDirectory).send(.resume(node))
        } catch {
            throw CLIExit.usage("\(error)")
        }
        // A refusal is not a usage error: the command was right, the tree was not halted.
        guard reply.ok else { throw CLIExit(code: 1, message: reply.error ?? "resume refused") }
        print(OperatorText.escaped(reply.message ?? "resumed"))
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Orderly shutdown: children stop in reverse start order; returns once the supervisor has exited.")

    @OptionGroup var control: RunDirectoryOption

    func run() throws {
        _ = try control.send(.stop, waitForExit: true)
        print("stopped")
    }
}
