@testable import Supervisor
import Testing
@testable import TreeMetrics
#if canImport(Glibc)
import Glibc
#endif

/// The text format, rendered from a snapshot with no process and no socket.
@Suite struct MetricsExpositionTests {
    static func snapshot() -> TreeSnapshot {
        let worker = { (name: String, state: String, pid: Int32?) in
            StatusTree(name: name, kind: "worker", state: state, pid: pid, restarts: 0, uptimeMs: pid == nil ? nil : 1000)
        }
        let etl = StatusTree(name: "etl", kind: "node", state: "halted", pid: nil, restarts: 0, uptimeMs: nil,
                             children: [worker("transformer", "halted", nil), worker("loader", "running", 42)])
        let root = StatusTree(name: "cidp", kind: "node", state: "running", pid: nil, restarts: 0, uptimeMs: 5000,
                              children: [etl])
        return TreeSnapshot(tree: root, restarts: ["transformer": ["signal SIGKILL": 2, "exit code 1": 1]],
                            giveUps: ["etl": 1], startedAt: ["loader": 1_700_000_000.5])
    }

    static func render(warehouse: WarehouseFigures? = nil) -> String {
        String(decoding: MetricsExposition.render(snapshot: snapshot(), warehouse: warehouse, version: "1.2.3") { pid in
            pid == 42 ? ProcessSample(residentBytes: 4096, cpuSeconds: 1.5) : nil
        }, as: UTF8.self)
    }

    @Test func everyChildHasOneSeriesPerStateWithOneSetToOne() {
        let text = Self.render()
        for name in ["etl", "transformer", "loader"] {
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("cidp_child_state{child=\"\(name)\",") }
            #expect(lines.count == MetricsExposition.states.count, "\(name): \(lines)")
            #expect(lines.filter { $0.hasSuffix(" 1.0") }.count == 1, "\(name): \(lines)")
        }
        #expect(text.contains("cidp_child_state{child=\"etl\",state=\"halted\"} 1.0"))
        #expect(!text.contains("child=\"cidp\""), "the root is not a child")
    }

    @Test func restartsGiveUpsHaltsAndProcessFiguresAreLabelledByChild() {
        let text = Self.render()
        #expect(text.contains("cidp_child_restarts_total{child=\"transformer\",reason=\"signal SIGKILL\"} 2"))
        #expect(text.contains("cidp_child_restarts_total{child=\"transformer\",reason=\"exit code 1\"} 1"))
        #expect(text.contains("cidp_node_give_ups_total{node=\"etl\"} 1"))
        #expect(text.contains("cidp_node_give_ups_total{node=\"cidp\"} 0"))
        #expect(text.contains("cidp_halted{node=\"etl\"} 1.0"))
        #expect(text.contains("cidp_halted{node=\"cidp\"} 0.0"))
        #expect(text.contains("cidp_child_resident_memory_bytes{child=\"loader\"} 4096.0"))
        #expect(text.contains("cidp_child_cpu_seconds_total{child=\"loader\"} 1.5"))
        #expect(text.contains("cidp_child_start_time_seconds{child=\"loader\"} 1700000000.5"))
        // A worker with no live process has no process figures.
        #expect(!text.contains("cidp_child_resident_memory_bytes{child=\"transformer\"}"))
        #expect(text.contains("cidp_build_info{version=\"1.2.3\"} 1.0"))
    }

    @Test func theWarehouseFiguresAreCountersAndGauges() {
        let text = Self.render(warehouse: WarehouseFigures(
            extracted: 10, loaded: 7, dropped: 1, quarantined: 2, gateViolations: ["record": 1], checkpointBatch: 3,
            lastCommit: 1_700_000_100, modelROCAUC: 0.93, modelTrainedAt: 1_700_000_050))
        #expect(text.contains("# TYPE cidp_records_total counter"))
        #expect(text.contains("cidp_records_total{stage=\"extract\",outcome=\"extracted\"} 10"))
        #expect(text.contains("cidp_records_total{stage=\"load\",outcome=\"loaded\"} 7"))
        #expect(text.contains("cidp_records_total{stage=\"transform\",outcome=\"dropped\"} 1"))
        #expect(text.contains("cidp_records_total{stage=\"transform\",outcome=\"quarantined\"} 2"))
        #expect(text.contains("cidp_gate_violations_total{gate=\"record\"} 1"))
        #expect(text.contains("cidp_checkpoint_batch 3.0"))
        #expect(text.contains("cidp_last_commit_timestamp_seconds 1700000100.0"))
        #expect(text.contains("cidp_model_roc_auc 0.93"))
        #expect(text.contains("cidp_model_trained_timestamp_seconds 1700000050.0"))
    }

    @Test func everyFamilyHasHelpAndType() {
        let lines = Self.render(warehouse: WarehouseFigures()).split(separator: "\n")
        let families = Set(lines.filter { !$0.hasPrefix("#") }.map { $0.prefix { $0 != "{" && $0 != " " } })
        for family in families {
            #expect(lines.contains { $0.hasPrefix("# HELP \(family) ") }, "\(family)")
            #expect(lines.contains { $0.hasPrefix("# TYPE \(family) ") }, "\(family)")
        }
    }
}

@Suite struct ProcessSampleTests {
    @Test func statFieldsAreCountedFromTheLastParenthesis() {
        // A command name holding ") " must not shift the fields.
        let stat = "1234 (odd) name) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 150 0 0 20 0 1 0 100 1000000 300"
        let sample = ProcessSample.parse(stat: stat, statm: "2500 300 100 1 0 200 0", pageSize: 4096, ticksPerSecond: 100)
        #expect(sample == ProcessSample(residentBytes: 300 * 4096, cpuSeconds: 4.0))
    }

    @Test func ourOwnProcessReadsAsLiveAndAGoneOneAsNil() {
        let own = ProcessSample.read(pid: getpid())
        #expect((own?.residentBytes ?? 0) > 0)
        #expect(ProcessSample.read(pid: Int32.max) == nil)
    }
}

@Suite struct MetricsBoardTests {
    static func snapshot(rows: Int64) -> TreeSnapshot {
        TreeSnapshot(tree: StatusTree(name: "cidp", kind: "node", state: "running", children: [
            { var loader = StatusTree(name: "loader", kind: "worker", state: "running", pid: 1); loader.recordsOut = rows; return loader }(),
        ]))
    }

    @Test func throughputIsRowsPerSecondOverEachSampleIntervalAndNeverNegative() {
        let board = MetricsBoard()
        board.publish(Self.snapshot(rows: 0), now: .seconds(100))
        board.publish(Self.snapshot(rows: 400), now: .seconds(101))   // within the interval: not sampled
        board.publish(Self.snapshot(rows: 1_000), now: .seconds(105))
        board.publish(Self.snapshot(rows: 800), now: .seconds(110))   // a restarted stage re-counting
        board.publish(Self.snapshot(rows: 1_800), now: .seconds(115))
        #expect(board.throughput() == ["loader": [200, 0, 200]])
        #expect(board.snapshot()?.tree.find("loader")?.recordsOut == 1_800)
    }

    @Test func fiveMinutesAreKept() {
        let board = MetricsBoard()
        for step in 0..<100 { board.publish(Self.snapshot(rows: Int64(step) * 50), now: .seconds(Int64(step) * 5)) }
        #expect(board.throughput()["loader"]?.count == MetricsBoard.samplesKept - 1)
        #expect(board.throughput()["loader"]?.allSatisfy { $0 == 10 } == true)
    }
}
