import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A worker that only keeps the supervision contract: ready at once, heartbeats, clean exit on
/// SIGTERM. The pipeline roles run as this until their data work lands (the ETL issue).
struct IdleWorker {
    nonisolated(unsafe) private static var terminationRequested: sig_atomic_t = 0

    func run(context: WorkerContext) -> Never {
        signal(SIGTERM) { _ in IdleWorker.terminationRequested = 1 }
        context.ready()
        let tick = min(context.heartbeatInterval, .milliseconds(100))
        while IdleWorker.terminationRequested == 0 {
            context.heartbeatIfDue()
            var pause = timespec(tv_sec: 0, tv_nsec: Int(tick.milliseconds) * 1_000_000)
            nanosleep(&pause, nil)
        }
        exit(0)
    }
}
