import ArgumentParser
import Posix
import Supervisor
import TreeMetrics
import Wire
import Workers

/// What `cidp up` carries for itself across `cidp upgrade --root` (in `RootHandover.host`): the
/// run's identity (run id, the simulator's port, its start on the monotonic clock), the metrics
/// listener and the locks — whose descriptors stay open across the exec — and the checkpoint the
/// run started from (the summary's baseline).
struct UpHandover {
    let host: [String: String]

    var runID: String? { host["run_id"] }
    var workerExecutable: String? { host["worker_executable"] }
    var simulatorPort: UInt16? { host["simulator_port"].flatMap(UInt16.init) }
    var started: Duration? { host["started_ns"].flatMap(Int64.init).map { .nanoseconds($0) } }

    /// A descriptor the state names under `key`.
    private func descriptor(_ key: String) -> FileDescriptor? {
        host[key].flatMap(Int32.init).map(FileDescriptor.init(rawValue:))
    }

    var metrics: MetricsListener.Opened {
        guard let fd = descriptor("metrics_fd"), let hostName = host["metrics_host"],
              let port = host["metrics_port"].flatMap(UInt16.init) else {
            if let why = host["metrics_not_served"] { return .defaultTaken(why: why) }
            return .off
        }
        return .listening(MetricsListener(fd: fd, address: MetricsAddress(host: hostName, port: port)))
    }

    func start(runDirectory: RunDirectory, database: String?) -> UpStart {
        let runLock = RunDirectory.Lock.adopt(path: runDirectory.lockPath,
                                              descriptor: descriptor("run_lock_fd") ?? FileDescriptor(rawValue: -1))
        let warehouseLock = database.flatMap { database in
            descriptor("warehouse_lock_fd").map { WarehouseLock(adopting: $0, database: database) }
        }
        var before: Checkpoint?
        if let batch = host["before_batch"].flatMap(UInt64.init) {
            before = Checkpoint(batchID: batch, position: .start, windowState: [],
                                rowsLoaded: host["before_loaded"].flatMap(Int64.init) ?? 0,
                                rowsDropped: host["before_dropped"].flatMap(Int64.init) ?? 0)
        }
        return UpStart(adoptedRunLock: runLock, warehouseLock: warehouseLock, checkpointBefore: before)
    }

    /// The state and descriptors to carry, as the root is about to re-execute.
    static func carry(runID: String, simulatorPort: UInt16, started: Duration, metrics: MetricsListener.Opened,
                      start: UpStart, workerExecutable: String) -> (state: [String: String], descriptors: [FileDescriptor]) {
        var state = ["run_id": runID, "simulator_port": "\(simulatorPort)", "worker_executable": workerExecutable,
                     "started_ns": "\(started.components.seconds * 1_000_000_000 + started.components.attoseconds / 1_000_000_000)",
                     "run_lock_fd": "\(start.runLock.descriptor)"]
        var descriptors = [start.runLock.descriptor]
        switch metrics {
        case .listening(let listener):
            state["metrics_fd"] = "\(listener.fd)"
            state["metrics_host"] = listener.address.host
            state["metrics_port"] = "\(listener.address.port)"
            descriptors.append(listener.fd)
        case .defaultTaken(let why):
            state["metrics_not_served"] = why
        case .off:
            break
        }
        if let lock = start.warehouseLock {
            state["warehouse_lock_fd"] = "\(lock.file.descriptor)"
            descriptors.append(lock.file.descriptor)
        }
        if let before = start.checkpointBefore {
            state["before_batch"] = "\(before.batchID)"
            state["before_loaded"] = "\(before.rowsLoaded)"
            state["before_dropped"] = "\(before.rowsDropped)"
        }
        return (state, descriptors)
    }
}

/// `cidp root-handover-format` (hidden): the handover format this binary reads, asked by a running
/// root before it re-executes into it (`cidp upgrade --root`).
struct RootHandoverFormat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: RootHandover.formatQueryArgument, abstract: "The root handover format this binary reads.",
        shouldDisplay: false)

    func run() throws { print(RootHandover.formatLine) }
}
