import Prometheus
import Supervisor

/// Renders a `TreeSnapshot` and the warehouse's figures in the Prometheus text format, through
/// swift-prometheus' registry (the swift-metrics backend) — never a hand-written format. Every
/// name, type and label is documented in docs/METRICS.md.
///
/// A registry is built for each scrape: the snapshot holds absolute totals (the engine's restart
/// counts, the warehouse's rows), so each counter is set from its total rather than
/// incremented between scrapes; a child that leaves the tree leaves the output with it.
public enum MetricsExposition {
    /// The states `cidp_child_state` has a series for, as `cidp status` names them.
    public static let states = ["starting", "running", "degraded", "restarting", "stopping", "stopped", "halted", "failed"]

    /// - Parameters:
    ///   - sample: reads a live worker's resident memory and CPU time (from /proc by default).
    public static func render(snapshot: TreeSnapshot?, warehouse: WarehouseFigures?, version: String,
                              sample: (Int32) -> ProcessSample? = ProcessSample.read(pid:)) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        registry.gauge(name: "cidp_build_info", labels: [("version", version)],
                           help: "Always 1; the version of the cidp root serving these metrics.").set(to: 1)
        if let snapshot { renderTree(snapshot, into: registry, sample: sample) }
        if let warehouse { renderWarehouse(warehouse, into: registry) }
        return registry.emitToBuffer()
    }

    private static func renderTree(_ snapshot: TreeSnapshot, into registry: PrometheusCollectorRegistry,
                                   sample: (Int32) -> ProcessSample?) {
        var children: [StatusTree] = []
        var nodes: [StatusTree] = []
        func walk(_ tree: StatusTree, isRoot: Bool) {
            if tree.kind == "node" { nodes.append(tree) }
            if !isRoot { children.append(tree) }
            for child in tree.children ?? [] { walk(child, isRoot: false) }
        }
        walk(snapshot.tree, isRoot: true)

        for child in children {
            for state in states {
                registry.gauge(name: "cidp_child_state", labels: [("child", child.name), ("state", state)],
                                   help: "1 for the state the child (worker or node) is in, 0 for the others.")
                    .set(to: child.state == state ? 1 : 0)
            }
        }
        for worker in children where worker.kind == "worker" {
            for (cause, count) in (snapshot.restarts[worker.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                registry.counter(name: "cidp_child_restarts_total", labels: [("child", worker.name), ("reason", cause)],
                                     help: "Restarts of the worker since the root started, by how the incarnation before each ended.")
                    .increment(by: Int64(count))
            }
            guard let pid = worker.pid else { continue }
            if let started = snapshot.startedAt[worker.name], worker.uptimeMs != nil {
                registry.gauge(name: "cidp_child_start_time_seconds", labels: [("child", worker.name)],
                                   help: "When the worker's live process became ready, Unix seconds.")
                    .set(to: started)
            }
            if let process = sample(pid) {
                registry.gauge(name: "cidp_child_resident_memory_bytes", labels: [("child", worker.name)],
                                   help: "Resident memory of the worker's live process (from /proc/PID/statm), bytes.")
                    .set(to: Double(process.residentBytes))
                registry.counter(name: "cidp_child_cpu_seconds_total", labels: [("child", worker.name)],
                                     help: "User and system CPU time of the worker's live process (from /proc/PID/stat); resets when it restarts.")
                    .increment(by: process.cpuSeconds)
            }
        }
        for node in nodes {
            registry.counter(name: "cidp_node_give_ups_total", labels: [("node", node.name)],
                                 help: "Times the node exhausted its restart intensity and gave up, since the root started.")
                .increment(by: Int64(snapshot.giveUps[node.name] ?? 0))
            registry.gauge(name: "cidp_halted", labels: [("node", node.name)],
                               help: "1 while an integrity gate holds the node down (until cidp resume), else 0.")
                .set(to: node.state == "halted" ? 1 : 0)
        }
    }

    private static func renderWarehouse(_ figures: WarehouseFigures, into registry: PrometheusCollectorRegistry) {
        let records: [(stage: String, outcome: String, count: Int64)] = [
            ("extract", "extracted", figures.extracted), ("load", "loaded", figures.loaded),
            ("transform", "dropped", figures.dropped), ("transform", "quarantined", figures.quarantined),
        ]
        for record in records {
            registry.counter(name: "cidp_records_total", labels: [("stage", record.stage), ("outcome", record.outcome)],
                                 help: "Records of the warehouse's committed batches by outcome (counted from the checkpoint, across restarts).")
                .increment(by: record.count)
        }
        for (gate, count) in figures.gateViolations.sorted(by: { $0.key < $1.key }) {
            registry.counter(name: "cidp_gate_violations_total", labels: [("gate", gate)],
                                 help: "Batches an integrity gate quarantined, by gate.")
                .increment(by: count)
        }
        registry.gauge(name: "cidp_checkpoint_batch", help: "The last batch committed to the warehouse's checkpoint.")
            .set(to: Double(figures.checkpointBatch))
        if let commit = figures.lastCommit {
            registry.gauge(name: "cidp_last_commit_timestamp_seconds", help: "When the checkpoint was last committed, Unix seconds.")
                .set(to: commit)
        }
        if let auc = figures.modelROCAUC {
            registry.gauge(name: "cidp_model_roc_auc", help: "The serving model's holdout ROC-AUC.").set(to: auc)
        }
        if let trained = figures.modelTrainedAt {
            registry.gauge(name: "cidp_model_trained_timestamp_seconds", help: "When the serving model was trained, Unix seconds.")
                .set(to: trained)
        }
    }
}

extension PrometheusCollectorRegistry {
    /// A gauge named exactly `name`, through swift-prometheus's descriptor (its name-and-help form
    /// is deprecated); no namespace or unit is split off, so the exposed name is `name`.
    fileprivate func gauge(name: String, labels: [(String, String)] = [], help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// A counter named exactly `name` (see `gauge`).
    fileprivate func counter(name: String, labels: [(String, String)] = [], help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
