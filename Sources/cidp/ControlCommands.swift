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

struct Upgrade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace running workers' binary, one worker at a time in start order, with no batch lost.",
        discussion: """
            Each worker is stopped as in an orderly shutdown (it finishes its current batch and \
            commits or hands it on), and a process of the new binary starts on the same data \
            channels; it must become ready within its readiness timeout. If it does not, the \
            previous binary is started again (rollback) and the upgrade stops there: exit 1 naming \
            the worker. The new binary is the one now at the path the tree runs from, or --exe. \
            'cidp status' shows each worker's build. Exit codes: 0 every worker upgraded; 1 rolled \
            back or not done; 2 refused (an unknown worker, a --exe that is not an executable file).

            With --root, the supervisor itself is re-executed in place (as nginx's binary upgrade \
            and systemd's daemon-reexec): same pid, the tree's state and every descriptor handed \
            over, so no worker restarts. Refused (exit 2, nothing changed) while the tree is \
            stopping, while another request is under way, when the policy file no longer \
            describes the running tree, or when the new binary does not read this root's handover \
            format.
            """)

    @OptionGroup var control: RunDirectoryOption
    @Option(help: "The new binary (default: the path the tree's workers run from, which now holds it).")
    var exe: String?
    @Flag(help: "Re-execute the supervisor itself in place; no worker restarts.")
    var root = false
    @Argument(help: "The workers to upgrade, as in 'cidp status' (default: every running worker).")
    var workers: [String] = []

    func run() throws {
        if root, !workers.isEmpty { throw CLIExit.usage("--root upgrades the supervisor alone: name no worker with it") }
        var executable: String?
        if let exe {
            let path = exe.hasPrefix("/") ? exe : FileManager.default.currentDirectoryPath + "/" + exe
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else {
                throw CLIExit.usage("--exe '\(exe)': not an executable file")
            }
            executable = path
        }
        if root {
            let reply = try control.send(.upgradeRoot(executable: executable))
            print(OperatorText.escaped(reply.message ?? "root upgraded"))
            return
        }
        guard let tree = try control.send(.status).tree else { throw CLIExit(code: ExitCode.failure, message: "no status from the supervisor") }
        let all = tree.workers
        for name in workers where !all.contains(where: { $0.name == name }) {
            throw CLIExit.usage("unknown worker '\(name)'; known: \(all.map(\.name).joined(separator: ", "))")
        }
        // Start order, whatever the order given.
        let chosen = workers.isEmpty ? all.filter { $0.pid != nil } : all.filter { workers.contains($0.name) }
        for worker in chosen {
            do {
                let reply = try control.send(.upgrade(worker.name, executable: executable))
                print(OperatorText.escaped(reply.message ?? "upgraded '\(worker.name)'"))
            } catch let exit as CLIExit {
                throw CLIExit(code: exit.code, message: "upgrade stopped at '\(worker.name)': \(exit.message)")
            }
        }
    }
}
