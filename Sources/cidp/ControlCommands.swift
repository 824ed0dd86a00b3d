import ArgumentParser
import Foundation
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
            print(String(decoding: try encoder.encode(tree), as: UTF8.self))
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
        print(reply.message ?? "restarted '\(worker)'")
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
