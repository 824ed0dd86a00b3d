import Supervisor
import Testing
import Wire

/// The live console's pieces that need no terminal: the progress board (rates, which progress
/// lines are due) and the frame.
struct ConsoleViewTests {
    let load = StageDisplay(counter: "rows_loaded", unit: "rows", total: 10_000)

    @Test func anIdleStageNeverGetsAProgressLine() {
        var board = ProgressBoard(stages: ["load": load])
        let idle = ControlMessage.Progress(stage: "load", counters: ["rows_loaded": 0, "rows_loaded_per_s": 0])
        board.record(idle, from: "loader", now: .seconds(1))
        #expect(board.linesDue(now: .seconds(1), interval: .seconds(5)).count == 1, "the first report is a line")
        for second in 2...60 {
            // The worker's own rate moves; its count does not.
            var again = idle
            again.counters["rows_loaded_per_s"] = Int64(second % 3)
            board.record(again, from: "loader", now: .seconds(second))
            #expect(board.linesDue(now: .seconds(second), interval: .seconds(5)).isEmpty, "second \(second)")
        }
    }

    @Test func aMovingStageGetsALineAtMostEveryInterval() {
        var board = ProgressBoard(stages: ["load": load])
        var lines = 0
        for tenth in 0...200 {
            let now = Duration.milliseconds(tenth * 100)
            board.record(.init(stage: "load", counters: ["rows_loaded": Int64(tenth * 50)]), from: "loader", now: now)
            lines += board.linesDue(now: now, interval: .seconds(5)).count
        }
        #expect(lines == 5, "20 s of progress, a line at 0, 5, 10, 15 and 20 s")
        #expect(board.rate(of: "loader", now: .seconds(20)).map { abs($0 - 500) < 1 } == true)
        // Stopped moving: the rate reads 0 a second later, and the last change gets its line.
        board.record(.init(stage: "load", counters: ["rows_loaded": 10_500]), from: "loader", now: .milliseconds(20_050))
        #expect(board.rate(of: "loader", now: .seconds(22)) == 0)
        #expect(board.linesDue(now: .seconds(25), interval: .seconds(5)).count == 1)
        #expect(board.linesDue(now: .seconds(60), interval: .seconds(5)).isEmpty)
    }

    @Test func theFrameShowsTheTreeProgressAndTrouble() {
        var board = ProgressBoard(stages: ["load": load,
                                           "train": StageDisplay(counter: "trees", unit: "trees", totalCounter: "trees_total")])
        for tenth in 0...20 {
            board.record(.init(stage: "load", counters: ["rows_loaded": Int64(tenth * 200)]), from: "loader",
                         now: .milliseconds(tenth * 100))
        }
        board.record(.init(stage: "train", counters: ["trees": 40, "trees_total": 100]), from: "trainer", now: .seconds(2))
        // A real tree's snapshot (every field it has), then the states a run would show.
        let spec = NodeSpec(name: "cidp", children: [
            .node(NodeSpec(name: "etl", strategy: .restForOne, children: [
                .worker(ChildSpec(name: "extractor", role: "extractor", executable: "x")), .worker(ChildSpec(name: "loader", role: "loader", executable: "x")),
            ])),
            .worker(ChildSpec(name: "trainer", role: "trainer", executable: "x")),
        ])
        var tree = SupervisorTree(root: spec).snapshot(now: .zero)
        tree.state = "running"
        tree.children[0].state = "running"
        tree.children[0].children[0].state = "restarting"
        tree.children[0].children[0].reason = "last exit code 1: HTTP 404 from http://x/\u{1B}[2J"
        tree.children[0].children[1].state = "running"
        tree.children[0].children[1].pid = 42
        tree.children[1].state = "running"
        let lines = ConsoleView.frame(title: "cidp up", elapsed: .seconds(65), tree: tree, board: board, now: .seconds(2))
        let text = lines.joined(separator: "\n")
        #expect(lines[0] == "cidp up · 1:05")
        #expect(text.contains("4,000 of 10,000 rows  2,000/s  ETA 0:03"), "\(text)")
        #expect(text.contains("40 of 100 trees"), "\(text)")
        // The error line of the worker in trouble, escaped: it cannot clear the screen.
        #expect(text.contains("! last exit code 1: HTTP 404 from http://x/\\u001b[2J"), "\(text)")
        #expect(!text.contains("\u{1B}"))
        #expect(text.contains("├─ etl") && text.contains("│  ├─ extractor") && text.contains("└─ trainer"), "\(text)")
    }
}
