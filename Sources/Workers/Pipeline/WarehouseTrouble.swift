import Posix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What a worker does when the world, not the data, gets in the way of the warehouse: a full
/// disk, an I/O error, a lock, no memory or descriptors (`WarehouseError.isEnvironmental`).
///
/// It is said as it is — `degraded` with the cause (`warehouse: disk full: …`) — and the same work
/// is tried again with capped backoff while heartbeats go on. Nothing is attributed to the item
/// the worker was working on: it reports itself idle while it waits, so no batch ever becomes a
/// poison pill (and is quarantined) because the disk filled. Once the trouble clears, the work
/// goes on unchanged. Past `giveUpAfter` from the first failure (or a lock past its own deadline):
/// in a job the chain halts with the cause, and the job exits 1 naming it; under `--follow` the
/// worker exits with `EX_TEMPFAIL` (75), still idle, and its node restarts it by its policy —
/// bounded by restart intensity, or kept retrying — so a trouble that clears later needs no
/// operator. Anything else (the data's fault, a bug) is not caught here.
struct WarehouseTrouble {
    let context: WorkerContext
    let logger: Logger
    let role: String
    /// How long one stretch of trouble may last before the worker gives up.
    let giveUpAfter: Duration
    /// Whether giving up halts the chain (a job) or exits for a restart (a `--follow` tree).
    let haltsChain: Bool
    /// The exit code of a worker that gave up on the warehouse for the world's reasons.
    static let temporaryFailureExitCode: Int32 = 75   // EX_TEMPFAIL, sysexits.h
    var schedule = RetrySchedule(initial: .milliseconds(100), maximum: .seconds(5))

    /// Whether `degraded` was reported and not yet lifted.
    private(set) var isDegraded = false

    init(context: WorkerContext, logger: Logger, role: String, giveUpAfter: Duration, haltsChain: Bool) {
        self.context = context
        self.logger = logger
        self.role = role
        self.giveUpAfter = giveUpAfter
        self.haltsChain = haltsChain
    }

    /// Runs `body` until it succeeds or fails for another reason than the world's.
    /// - Parameters:
    ///   - what: what is being done, for the log (`commit of batches 3…5`).
    ///   - item: the item the worker works on, reported again once the trouble clears.
    ///   - watermark: the committed batch, for the halt event.
    /// - Throws: the first error that is not environmental, as `body` threw it.
    mutating func waitingOut<T>(_ what: String, item: String? = nil, watermark: UInt64,
                                _ body: () throws(WarehouseError) -> T) throws(WarehouseError) -> T {
        let clock = ContinuousClock()
        var since: ContinuousClock.Instant?
        var attempt = 1
        var random = SystemRandomNumberGenerator()
        while true {
            do {
                let result = try body()
                if since != nil, let item { context.reportWorking(on: item) }
                if isDegraded {
                    isDegraded = false
                    context.reportHealth(degraded: nil)
                    logger.notice("Warehouse usable again", metadata: ["what": "\(what)"])
                }
                return result
            } catch where error.isEnvironmental {
                let start = since ?? clock.now
                since = start
                // The world's fault, not the batch's: idle while waiting, so no crash or restart
                // meanwhile counts towards a poison pill.
                if item != nil { context.reportWorking(on: nil) }
                let cause = "warehouse: \(error.environmentalCause)"
                if !isDegraded {
                    isDegraded = true
                    context.reportHealth(degraded: "\(cause): \(error)")
                }
                let troubled = start.duration(to: clock.now)
                // A lock is waited out inside the warehouse up to its own deadline: past it, give up now.
                var isLockPastItsDeadline = false
                if case .locked = error.code { isLockPastItsDeadline = true }
                if troubled >= giveUpAfter || isLockPastItsDeadline {
                    let message = "\(cause) for \(Self.seconds(troubled)) (\(role)'s give-up deadline "
                        + "\(Self.seconds(isLockPastItsDeadline ? troubled : giveUpAfter))): \(error)"
                    logger.error("Warehouse trouble past the deadline", metadata: [
                        "event": "warehouse_gave_up", "what": "\(what)", "reason": "\(message)",
                    ])
                    guard haltsChain else {
                        if item != nil { context.reportWorking(on: nil) }
                        workerFail("\(role): \(message)", code: Self.temporaryFailureExitCode)
                    }
                    Halt.stop(message, batch: nil, watermark: watermark, logger: logger, context: context)
                }
                attempt += 1
                let delay = min(schedule.delay(forAttempt: attempt, unitRandom: Double.random(in: 0..<1, using: &random)),
                                giveUpAfter - troubled)
                logger.warning("Warehouse trouble; retrying", metadata: [
                    "what": "\(what)", "cause": "\(error.environmentalCause)", "error": "\(error)",
                    "retry.in.ms": "\(delay.milliseconds)", "attempt": "\(attempt)",
                ])
                pause(delay)
            }
        }
    }

    /// Sleeps `delay` in slices, heartbeating and honouring a stop request.
    private func pause(_ delay: Duration) {
        let clock = ContinuousClock()
        let deadline = clock.now + delay
        while clock.now < deadline {
            if Termination.isRequested { exit(0) }
            context.heartbeatIfDue()
            let slice = min(deadline - clock.now, .milliseconds(50))
            Posix.nap(for: slice)
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
    }
}
