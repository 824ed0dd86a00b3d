import Posix
import Synchronization

/// What the two roles that serve HTTP (the simulator, the predictor) do around their server:
/// heartbeats from the server's own executor, and an orderly stop on SIGTERM.
public enum Serving {
    /// Heartbeats from a detached task rather than the main thread, so a wedged executor stops
    /// them and the supervisor sees the worker hung. Cancel the task to stop them.
    public static func heartbeats(_ context: WorkerContext) -> Task<Void, Never> {
        Task.detached {
            let tick = min(context.heartbeatInterval / 2, .milliseconds(250))
            while !Task.isCancelled {
                context.heartbeatIfDue()
                try? await Task.sleep(for: tick)
            }
        }
    }

    /// Blocks the calling thread until SIGTERM (`Termination.install()` first), then runs `stop`
    /// on a task and waits for it at most `grace`: open requests get a moment, and the exit that
    /// follows closes the rest.
    public static func awaitTermination(grace: Duration = .seconds(2), thenStop stop: @escaping @Sendable () async -> Void) {
        while !Termination.isRequested {
            Posix.nap(for: .milliseconds(20))
        }
        let stopped = Flag()
        Task.detached {
            await stop()
            stopped.raise()
        }
        let deadline = Posix.monotonicNow() + grace
        while !stopped.isRaised, Posix.monotonicNow() < deadline {
            Posix.nap(for: .milliseconds(5))
        }
    }
}

/// Set once by one task, polled by another thread.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    var isRaised: Bool { value.load(ordering: .acquiring) }

    func raise() { value.store(true, ordering: .releasing) }
}
