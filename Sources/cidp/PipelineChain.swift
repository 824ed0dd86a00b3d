import Supervisor
import Workers

/// The shape of the pipeline in a policy, checked before anything starts: each data channel
/// (`input = "…"`) joins the roles the chain expects, extractor → transformer → loader, so a worker
/// of the wrong role in the chain's place (a `test` worker where the transformer expects its
/// extractor) is a configuration error naming it, not a job that waits for ever.
///
/// The policy decoder knows roles only as names; this is where their places are known. `test`
/// workers may be joined to each other freely; a channel from or to a pipeline role is checked
/// at that role.
enum PipelineChain {
    /// A misplaced role: the worker to fix and what is wrong, on one line.
    struct Misplaced: Error, CustomStringConvertible {
        var worker: String
        var problem: String

        var description: String { "workers.\(worker): \(problem) (the chain is extractor -> transformer -> loader)" }
    }

    /// A pipeline role's place: the role it reads from (nil: it reads no data channel), and the
    /// role it must feed (nil: it feeds none).
    private struct Place {
        var reads: WorkerRole?
        var feeds: WorkerRole?
    }

    /// Roles not listed (`test`) are not checked.
    private static let places: [WorkerRole: Place] = [
        .extractor: Place(reads: nil, feeds: .transformer),
        .transformer: Place(reads: .extractor, feeds: .loader),
        .loader: Place(reads: .transformer, feeds: nil),
        .sensorSim: Place(reads: nil, feeds: nil),
        .trainer: Place(reads: nil, feeds: nil),
    ]

    /// Checks every data channel to or from a pipeline role, workers in start order.
    /// - Throws: `Misplaced` for the first problem.
    static func check(_ root: NodeSpec) throws(Misplaced) {
        let workers = root.workers
        let roleOf = Dictionary(workers.map { ($0.name, $0.role) }) { first, _ in first }
        let consumerOf = Dictionary(workers.compactMap { worker in worker.input.map { ($0, worker.name) } }) { first, _ in first }
        func article(_ role: WorkerRole) -> String { role == .extractor ? "an extractor" : "a \(role.rawValue)" }

        // What each worker reads first, then what each feeds: a worker's own `input` is the
        // likelier mistake, and the message then names the line to change.
        let pipeline = workers.compactMap { worker -> (name: String, input: String?, role: WorkerRole, place: Place)? in
            guard let role = WorkerRole(rawValue: roleOf[worker.name] ?? ""), let place = places[role] else { return nil }
            return (worker.name, worker.input, role, place)
        }
        for (name, input, role, place) in pipeline {
            let quotedRole = "role \"\(role.rawValue)\""
            switch (place.reads, input) {
            case (nil, let input?):
                throw Misplaced(worker: name, problem: "\(quotedRole) reads no data channel: remove input = \"\(input)\"")
            case (let expected?, nil):
                throw Misplaced(worker: name, problem: "\(quotedRole) has no input: expected input = \"NAME\" of \(article(expected))")
            case (let expected?, let input?) where roleOf[input] != expected.rawValue:
                throw Misplaced(worker: input, problem: "role \"\(roleOf[input] ?? "")\" where the chain expects \(article(expected)): "
                    + "\(role.rawValue) '\(name)' takes its input from it (input = \"\(input)\")")
            default:
                break
            }
        }
        for (name, _, role, place) in pipeline {
            let quotedRole = "role \"\(role.rawValue)\""
            switch (place.feeds, consumerOf[name]) {
            case (nil, let consumer?):
                throw Misplaced(worker: consumer, problem: "takes its input from '\(name)' (input = \"\(name)\"), whose "
                    + "\(quotedRole) feeds no data channel")
            case (let expected?, nil):
                throw Misplaced(worker: name, problem: "\(quotedRole) feeds nothing: expected \(article(expected)) "
                    + "with input = \"\(name)\"")
            case (let expected?, let consumer?) where roleOf[consumer] != expected.rawValue:
                throw Misplaced(worker: consumer, problem: "role \"\(roleOf[consumer] ?? "")\" where the chain expects "
                    + "\(article(expected)): it takes its input from \(role.rawValue) '\(name)' (input = \"\(name)\")")
            default:
                break
            }
        }
    }
}
