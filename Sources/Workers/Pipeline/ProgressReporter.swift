import Posix
import Wire

/// Sends a stage's counters to the supervisor at most every `interval`, with a records-per-second
/// rate over the last interval, so that `cidp up` can show live progress per stage.
struct ProgressReporter {
    let stage: String
    let counter: String
    var interval: Duration = .milliseconds(500)
    private var lastSent: Duration = .zero
    private var lastCount: Int64 = 0

    init(stage: String, counter: String) {
        self.stage = stage
        self.counter = counter
    }

    /// Reports `counters` if the interval has passed (or `force`), adding `"<counter>_per_s"`.
    mutating func report(_ counters: [String: Int64], context: WorkerContext, force: Bool = false) {
        let now = Posix.monotonicNow()
        guard force || now - lastSent >= interval else { return }
        var counters = counters
        let count = counters[counter] ?? 0
        let elapsed = (now - lastSent).seconds
        if lastSent != .zero, elapsed > 0 {
            counters[counter + "_per_s"] = Int64(Double(count - lastCount) / elapsed)
        }
        lastSent = now
        lastCount = count
        context.reportProgress(stage: stage, counters: counters)
    }
}
