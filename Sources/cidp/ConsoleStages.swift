import OperatorText
import Supervisor
import Workers

/// What the live console and the progress lines count for each stage of the pipeline, and out
/// of how many (`ProgressReporter`'s counters in the workers).
extension JobOptions {
    /// A job on the simulator knows its N: the records it serves. The stages count from the
    /// warehouse's committed totals (they go on across restarts and runs), so x of N is where the
    /// warehouse stands against the source. A real source, or `--follow`, does not know N.
    func stageDisplays(checkpointBefore: Checkpoint?) -> [String: StageDisplay] {
        var expected: Int64?
        if usesSimulator, !follow {
            let consumed = (checkpointBefore?.rowsLoaded ?? 0) + (checkpointBefore?.rowsDropped ?? 0)
            expected = Int64(records) > consumed ? Int64(records) : nil
        }
        return [
            "extract": StageDisplay(counter: "records", unit: "records", total: expected),
            "transform": StageDisplay(counter: "records_in", unit: "records", total: expected),
            "load": StageDisplay(counter: "rows_loaded", unit: "rows", total: expected),
            // The warehouse gate, the backup, reading the training data.
            "prepare": StageDisplay(counter: "step", unit: "steps (check, back up, read)", totalCounter: "steps",
                                    showsRate: false),
            "train": StageDisplay(counter: "trees", unit: "trees", totalCounter: "trees_total"),
            "calibrate": StageDisplay(counter: "trees", unit: "trees (out-of-bag)", totalCounter: "trees_total"),
            // Scoring every row, then writing the predictions in one transaction.
            "publish": StageDisplay(counter: "step", unit: "steps (score, write)", totalCounter: "steps",
                                    showsRate: false),
        ]
    }

    /// The live view's first line.
    var consoleTitle: String {
        let mode = follow ? "--follow" : "job"
        let source = usesSimulator ? "simulator, \(records) records" : "source " + OperatorText.escaped(self.source)
        return "cidp up (\(mode), \(source))"
    }
}
