import Posix
import Foundation
import Logging
import Synchronization
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The `predictor` role: the failure model's prediction API on loopback (`PredictorService`),
/// as the original's `api/api.py` beside its pipeline. See `PredictorOptions` for the options.
///
/// At start it loads the warehouse's serving model (read only), then listens and says ready;
/// without a model it serves `503` until one is promoted. Every `--model-poll-ms` a thread of its
/// own reads the serving version (one indexed row) and, when it changed, loads the new model and
/// swaps it in whole: requests are never made to wait for a load, and each is scored by one model.
///
/// An address given in the policy (`--listen`) that cannot be bound is a failure (exit 1, one
/// line naming it; the supervisor restarts the worker). The default address (`127.0.0.1:9465`)
/// is best effort, as the root's default metrics address: when another tree on this machine
/// holds it the worker says so in one warning, is ready, and binds it once it is free. It does
/// not report itself degraded: a second tree must not look unhealthy over a port its operator
/// never asked for (and `cidp status` shows every other tree's workers as they are).
/// SIGTERM stops it (exit 0).
public struct PredictorWorker {
    let options: PredictorOptions

    /// - Throws: `WorkerUsageError` naming the option.
    public init(arguments: [String]) throws(WorkerUsageError) {
        options = try PredictorOptions(arguments: arguments)
    }

    /// How long the default address is waited for between two attempts while another process holds it.
    static let retryBind: Duration = .seconds(2)

    public func run(context: WorkerContext) -> Never {
        Termination.install()
        // A client that hangs up mid-response must not kill the predictor.
        signal(SIGPIPE, SIG_IGN)
        let logger = Logger(label: "cidp.predictor")
        let options = self.options
        let slot = ModelSlot()
        let watcher = ModelWatcher(path: options.databasePath, slot: slot, logger: logger)
        // Loaded before listening: the first answers already use the serving model.
        watcher.check()
        let watching = Thread {
            while true {
                Posix.nap(for: options.modelPollInterval)
                watcher.check()
            }
        }
        watching.name = "model-watcher"
        watching.start()
        // From the server's executor, so a wedged server is seen as hung.
        let heartbeats = Serving.heartbeats(context)
        let service = PredictorService(slot: slot, databasePath: options.databasePath, maximumReadings: options.maximumReadings)
        let current = Locked<PredictorServer?>(nil)
        Task.detached { await Self.serve(options, service, slot: slot, current: current, context: context, logger: logger) }
        Serving.awaitTermination {
            await current.withLock { $0 }?.stop()
            heartbeats.cancel()
        }
        logger.notice("Predictor stopped", metadata: ["predictor.address": "\(options.host):\(options.port)"])
        exit(0)
    }

    /// Listens and serves until stopped. The default address, while another process holds it,
    /// is retried every `retryBind`, with one warning; any other failure to listen ends the worker.
    /// Ready is said once: when listening, or when first waiting for the default address.
    private static func serve(_ options: PredictorOptions, _ service: PredictorService, slot: ModelSlot,
                              current: Locked<PredictorServer?>, context: WorkerContext, logger: Logger) async {
        let address = "\(options.host):\(options.port)"
        var isReady = false
        var isWaiting = false
        while true {
            let server: PredictorServer
            do {
                server = try PredictorServer(host: options.host, port: options.port, service: service,
                                             maximumBodyBytes: options.maximumBodyBytes, logger: logger)
            } catch {
                workerFail("predictor: cannot listen on \(address): \(error)")
            }
            current.withLock { $0 = server }
            let listening = Locked<Bool>(isReady)
            do {
                try await server.run { port in
                    logger.notice("Predictor listening", metadata: [
                        "predictor.url": "http://\(options.host):\(port)/v1/predict",
                        "model.version": "\(slot.current.model.map { String($0.version) } ?? "none")",
                    ])
                    listening.withLock {
                        if !$0 { context.ready() }
                        $0 = true
                    }
                }
                return
            } catch let failure as PredictorServer.BindFailure where failure.isAddressInUse && !options.isAddressExplicit {
                isReady = listening.withLock { $0 }
                if !isWaiting {
                    isWaiting = true
                    logger.warning("Predictor not serving: its default address is taken", metadata: [
                        "predictor.address": "\(address)",
                        "hint": "set listen in [workers.<predictor>] to choose another; retrying every \(Self.retryBind)",
                    ])
                    if !isReady { context.ready() }
                    isReady = true
                }
                try? await Task.sleep(for: Self.retryBind)
            } catch {
                workerFail("predictor: cannot listen on \(address): \(error)")
            }
        }
    }
}

/// A value behind a lock that escaping closures can share (a `Mutex` cannot be captured: it is not copyable).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}
