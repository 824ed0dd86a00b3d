import Logging
import Posix
import Wire

/// How `cidp up` shows the running tree on its console.
public struct ConsoleOptions: Sendable {
    /// The live view's terminal (standard output is a terminal, not `--quiet`); nil prints lines.
    public var terminal: LiveTerminal?
    /// How each stage's progress is counted and out of how many.
    public var stages: [String: StageDisplay]
    /// The view's first line.
    public var title: String
    /// How often the live view is redrawn.
    public var redrawInterval: Duration
    /// Without a live view: a stage's progress line at most this often, and only when it changed.
    public var progressLineInterval: Duration

    public init(terminal: LiveTerminal? = nil, stages: [String: StageDisplay] = [:], title: String = "cidp up",
                redrawInterval: Duration = .milliseconds(250), progressLineInterval: Duration = .seconds(5)) {
        self.terminal = terminal
        self.stages = stages
        self.title = title
        self.redrawInterval = redrawInterval
        self.progressLineInterval = progressLineInterval
    }
}

/// The console's side of the loop: progress messages go to the board; at each console tick the
/// live view is redrawn, or the progress lines that are due are logged (console and file).
/// Everything runs on the loop's thread, from its timer: nothing here blocks but a small write.
extension SupervisorRuntime {
    /// A worker's progress message.
    func noteProgress(_ progress: ControlMessage.Progress, of id: ElementID) {
        board.record(progress, from: tree.name(of: id), now: Posix.monotonicNow())
    }

    /// When the console next needs the loop: the next redraw or progress-line check.
    var nextConsoleDeadline: Duration { consoleTickAt }

    /// Called after every turn of the loop; does its work once the console's tick is due.
    func tickConsole(force: Bool = false) {
        let now = Posix.monotonicNow()
        guard force || now >= consoleTickAt else { return }
        if let terminal = console.terminal {
            consoleTickAt = now + console.redrawInterval
            terminal.draw(consoleFrame(now: now))
        } else {
            consoleTickAt = now + .seconds(1)
        }
        // The lines go to the file always, and to the console when no live view shows progress.
        for entry in board.linesDue(now: now, interval: console.progressLineInterval) {
            logProgressLine(entry, now: now)
        }
    }

    /// `Progress stage=load worker.name=loader rows_loaded=52000 rows_loaded_per_s=11200 …`, the
    /// rate measured here over the last seconds (not the worker's last half second).
    private func logProgressLine(_ entry: ProgressBoard.Entry, now: Duration) {
        var metadata: Logger.Metadata = ["event": "progress", "worker.name": "\(entry.worker)",
                                         "stage": "\(entry.progress.stage)"]
        for (key, value) in entry.progress.counters where !key.hasSuffix("_per_s") { metadata[key] = "\(value)" }
        if let id = tree.elementID(named: entry.worker), let pid = latestPID[id] {
            metadata["worker.pid"] = "\(pid)"
        }
        if let rate = board.rate(of: entry.worker, now: now) {
            metadata[board.display(for: entry.progress).counter + "_per_s"] = "\(Int64(rate.rounded()))"
        }
        logger.info("Progress", metadata: metadata)
    }

    /// The run is over: the last progress lines, and the live view drawn a last time and left on
    /// the screen above the summary.
    func finishConsole() {
        let now = Posix.monotonicNow()
        for entry in board.linesDue(now: now, interval: .zero) { logProgressLine(entry, now: now) }
        console.terminal?.finish(consoleFrame(now: now))
    }

    private func consoleFrame(now: Duration) -> [String] {
        ConsoleView.frame(title: console.title, elapsed: now - consoleStartedAt, tree: tree.snapshot(now: now),
                          board: board, now: now)
    }
}
