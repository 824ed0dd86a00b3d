// cidp-sensor-sim: the sensor API simulator, exec'd by `cidp worker sensor-sim` with the same
// pid, descriptors and environment, so it keeps the worker contract (control channel at fd 3,
// parent-death signal, memory limit). See Package.swift for why it is its own executable.
import Logging
import SensorSimulator
import Workers

let context = WorkerContext()
LoggingSystem.bootstrap { label in WorkerLogHandler(label: label) }
do {
    try SensorSimWorker(arguments: Array(CommandLine.arguments.dropFirst())).run(context: context)
} catch {
    workerFail("worker sensor-sim: \(error)", code: 2)
}
