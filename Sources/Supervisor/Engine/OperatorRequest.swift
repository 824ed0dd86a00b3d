/// What an operator asks of a running tree (`cidp restart|resume|stop|start NAME`): one entry point
/// into the engine (`TreeEvent.request`), answered by the engine itself (`TreeAction.answer`) once
/// the request is done, or at once when it is refused — the driver only routes.
public enum OperatorRequest: Sendable, Equatable, Codable {
    /// Stop the child and, per its node's strategy, its siblings, and start them again. Not
    /// counted against restart intensity (OTP's `restart_child` after `terminate_child`, in one).
    case restart(ElementID)
    /// Lift the halt of this node or worker, or of every halted one (nil).
    case resume(ElementID?)
    /// Stop the child — and what its node's strategy ties to it, e.g. the later stages of a
    /// `rest_for_one` chain — and hold it stopped: no strategy restarts it, intensity is not
    /// charged, until `start` (OTP's `terminate_child`, supervisorctl's `stop NAME`).
    case stop(ElementID)
    /// Start again a child `stop` holds, with what was held with it, in order (`restart_child`).
    case start(ElementID)
    /// Replace the worker's process by one of the binary at `executable` (nil: the path it was
    /// started from, which now holds a new build), rolling back if it does not become ready.
    case upgrade(ElementID, executable: String?)
    /// Apply a new policy's tree: only the difference (`SupervisorTree+Reload`).
    case reload(NodeSpec)
}

/// The engine's answer to an `OperatorRequest`.
///
/// The exit-code rule of `cidp restart|resume|stop|start`: `done` exits 0; `refused` exits 2 (the
/// request cannot be carried out as asked — a name that is not a child, a child in the wrong
/// state — and nothing was changed); `failed` exits 1 (accepted and begun, it did not come about:
/// the node gave up, halted again, or the tree began shutting down).
public enum OperatorAnswer: Sendable, Equatable {
    /// Done: one line saying what happened, e.g. `restarted 'loader' (running, pid 42)`.
    case done(String)
    /// Refused before anything changed.
    case refused(OperatorRefusal)
    /// Begun, but it did not come about: why.
    case failed(String)
}

/// Why a request was refused; nothing was changed.
public enum OperatorRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case isRoot
    case shuttingDown
    /// The child's own node is not running (it is stopping, giving up, or held stopped).
    case nodeNotRunning(child: String, node: String)
    /// The child is, or is inside, this halted node: only a resume starts it again.
    case nodeHalted(String)
    /// The worker itself is halted (a halted worker directly under the root).
    case halted(String)
    case nothingHalted
    case notHalted(String)
    /// Not halted itself, but held down by this halted node: resume that one.
    case insideHaltedNode(child: String, node: String)
    /// `stop` of a child an operator already holds stopped.
    case alreadyStopped(String)
    /// `start` of a child no operator holds stopped.
    case notStopped(String)
    /// The child is held stopped: `cidp start` it, not restart.
    case heldStopped(String)
    /// Held stopped by the stop of `holder`, whose node's strategy ties it to it.
    case stoppedWith(String, holder: String)
    /// An upgrade names a node: upgrades are per worker.
    case notAWorker(String)
    /// An upgrade of a worker that is not running (starting, restarting, failed).
    case notRunning(String)
    /// A reload that cannot be applied to the running tree: why.
    case cannotReload(String)

    public var description: String {
        switch self {
        case .isRoot: return "the root cannot be restarted or stopped this way; use 'cidp stop' and 'cidp up'"
        case .shuttingDown: return "the tree is shutting down"
        case .nodeNotRunning(let child, let node): return "'\(child)' is in node '\(node)', which is not running"
        case .nodeHalted(let node): return "node \(node) is halted; use 'cidp resume \(node)'"
        case .halted(let worker): return "\(worker) is halted; use 'cidp resume \(worker)'"
        case .nothingHalted: return "nothing is halted"
        case .notHalted(let name): return "'\(name)' is not halted"
        case .insideHaltedNode(let child, let node): return "'\(child)' is in halted node '\(node)'; use 'cidp resume \(node)'"
        case .alreadyStopped(let name): return "'\(name)' is already stopped; use 'cidp start \(name)'"
        case .notStopped(let name): return "'\(name)' is not stopped by an operator; use 'cidp restart \(name)'"
        case .heldStopped(let name): return "'\(name)' is stopped by an operator; use 'cidp start \(name)'"
        case .cannotReload(let why): return "cannot reload: \(why)"
        case .notAWorker(let name): return "'\(name)' is a node; upgrade its workers by name"
        case .notRunning(let name): return "'\(name)' is not running; upgrade it once it runs"
        case .stoppedWith(let name, let holder):
            return "'\(name)' was stopped with '\(holder)' and starts with it; use 'cidp start \(holder)'"
        }
    }
}
