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
        discussion: """
            Without NODE, every halted node is resumed. Exits 2 when nothing (or not NODE) is halted \
            (refused, nothing changed), 1 when it halts again or does not come back.
            """)

    @OptionGroup var control: RunDirectoryOption
    @Argument(help: "The halted node (or worker), as in 'cidp status'; all halted ones when omitted.") var node: String?

    func run() throws {
        let reply = try control.send(.resume(node))
        print(OperatorText.escaped(reply.message ?? "resumed"))
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Without NAME: orderly shutdown, children in reverse start order; returns once the supervisor has exited.",
        discussion: """
            With NAME: stop that worker or node — and what its node's strategy ties to it, e.g. the later \
            stages of a rest_for_one chain — and hold it stopped: no strategy restarts it and restart \
            intensity is not charged, until 'cidp start NAME'. Returns once it is down. Exit codes: 0 \
            done, 2 refused (nothing changed), 1 begun and not done.
            """)

    @OptionGroup var control: RunDirectoryOption
    @Argument(help: "The worker or node to stop and hold stopped, as in 'cidp status'.") var name: String?

    func run() throws {
        guard let name else {
            _ = try control.send(.stop, waitForExit: true)
            print("stopped")
            return
        }
        let reply = try control.send(.stopChild(name))
        print(OperatorText.escaped(reply.message ?? "stopped '\(name)'"))
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start again a worker (or node) 'cidp stop NAME' holds, with what was held with it; returns once it is ready.",
        discussion: "Exit codes: 0 done, 2 refused (it is not held stopped; nothing changed), 1 begun and not done.")

    @OptionGroup var control: RunDirectoryOption
    @Argument(help: "The worker or node, as in 'cidp status'.") var name: String

    func run() throws {
        let reply = try control.send(.start(name))
        print(OperatorText.escaped(reply.message ?? "started '\(name)'"))
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the running tree's policy file and apply only what changed; returns once applied.",
        discussion: """
            A worker added starts in its place; a worker removed stops; a worker whose spec changed \
            (args, environment, limits, restart type, shutdown, watchdog, backoff) is restarted with \
            the new one; a node whose strategy or intensity changed takes the new values, its children \
            untouched; everything else keeps its pid. The plan is printed first. SIGHUP to the root does \
            the same. Exit codes: 0 applied (or nothing to apply); 2 refused, the running tree \
            untouched (an invalid policy, one line naming the file, line and key; a change that cannot \
            be applied live, such as the data channels' wiring, with the reason); 1 begun and not done.
            """)

    @OptionGroup var control: RunDirectoryOption
    @Flag(help: "Print the plan only; change nothing.") var dryRun = false

    func run() throws {
        if dryRun {
            let reply = try control.send(.reload(dryRun: true))
            print(OperatorText.escaped("plan: " + (reply.message ?? "nothing changed")))
            return
        }
        let plan = try control.send(.reload(dryRun: true))
        print(OperatorText.escaped("plan: " + (plan.message ?? "nothing changed")))
        let reply = try control.send(.reload(dryRun: false))
        print(OperatorText.escaped(reply.message ?? "reloaded"))
    }
}
