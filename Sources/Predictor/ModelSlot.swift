import Logging
import Synchronization
import Workers

/// The model requests are scored with, swapped whole when a newer one is promoted: a request
/// takes the current model under a lock held for a copy (a reference count), and scores outside it.
final class ModelSlot: Sendable {
    private let state = Mutex<(model: ServedModel?, reason: String)>((nil, "the predictor is starting"))

    /// The model and, when there is none, why.
    var current: (model: ServedModel?, reason: String) { state.withLock { $0 } }

    func replace(with model: ServedModel) { state.withLock { $0 = (model, "") } }

    func clear(reason: String) { state.withLock { $0 = (nil, reason) } }
}

/// Watches `ml_models` for a change of the serving model and loads it off the request path.
///
/// Every `interval` one indexed read (`Warehouse.servingModelVersion`); only a version that
/// differs from the loaded one reads the blob and decodes it, then swaps it in. A warehouse that
/// does not exist yet, or one the predictor cannot read, leaves the slot as it is (empty at start:
/// requests get 503 saying why) and is tried again; each new problem is logged once.
final class ModelWatcher: @unchecked Sendable {
    // @unchecked: `warehouse` and `lastProblem` are touched only by the watcher's own thread.
    private let path: String
    private let slot: ModelSlot
    private let logger: Logger
    private var warehouse: Warehouse?
    private var lastProblem = ""

    init(path: String, slot: ModelSlot, logger: Logger) {
        self.path = path
        self.slot = slot
        self.logger = logger
    }

    /// Reads the serving version and, if it changed, loads and swaps in that model.
    func check() {
        do throws(WarehouseError) {
            if warehouse == nil {
                guard Warehouse.exists(path) else {
                    note("the warehouse '\(path)' does not exist yet (no job has loaded data)")
                    return
                }
                warehouse = try Warehouse(readingOnly: path, busyTimeout: .milliseconds(200))
            }
            guard let warehouse else { return }
            let loaded = slot.current.model?.version
            let serving = try warehouse.servingModelVersion()
            guard serving != loaded else {
                if serving == nil { note("no serving model yet: the trainer has not promoted one") }
                return
            }
            guard serving != nil, let record = try warehouse.servingModel() else {
                slot.clear(reason: "no serving model: the registry has none")
                note("no serving model: the registry has none")
                return
            }
            let model = try ServedModel(record: record)
            slot.replace(with: model)
            lastProblem = ""
            logger.notice("Serving model loaded", metadata: [
                "model.version": "\(model.version)", "model.previous": "\(loaded.map(String.init) ?? "none")",
            ])
        } catch {
            // Keep serving the model we have; a broken connection is opened afresh next time.
            warehouse = nil
            note("cannot read the serving model: \(error)", level: .warning)
        }
    }

    private func note(_ problem: String, level: Logger.Level = .info) {
        if slot.current.model == nil { slot.clear(reason: problem) }
        guard problem != lastProblem else { return }
        lastProblem = problem
        logger.log(level: level, "Serving model unavailable", metadata: ["reason": "\(problem)"])
    }
}
