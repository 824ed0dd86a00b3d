// cidp-predictor: the prediction API, exec'd by `cidp worker predictor` with the same pid,
// descriptors and environment, so it keeps the worker contract (control channel at fd 3,
// parent-death signal, memory limit). It is its own executable for the simulator's reason
// (Package.swift): FlyingFox links FoundationNetworking, ~5 ms more on every `cidp` worker exec.
import Logging
import Predictor
import Workers

let context = WorkerContext()
LoggingSystem.bootstrap { label in WorkerLogHandler(label: label) }
do {
    try PredictorWorker(arguments: Array(CommandLine.arguments.dropFirst())).run(context: context)
} catch {
    workerFail("worker predictor: \(error)", code: 2)
}
