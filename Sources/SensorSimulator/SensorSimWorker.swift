import Posix
import Logging
import Synchronization
import Workers
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `sensor-sim` role: the pump fleet's telemetry API on loopback, with fault injection
/// (`SimulatorFaults`), for the extractor to pull from.
///
/// Options: `--port P` (required, 1…65535), `--host ADDRESS` (default 127.0.0.1),
/// `--records N` (default 10000), `--seed S` (default 42), `--profile original|realistic` (default
/// original: `SimulatorProfile`), `--fault KIND=VALUE` (repeatable),
/// `--follow-rate R` (an open-ended source: R more records each second after the first N, up to
/// `TelemetryGenerator.maximumCount` in all, where it ends). `--records` is at most that cap.
///
/// Ready once listening. During an `outage` fault nothing listens (clients get ECONNREFUSED):
/// the worker says ready at once, reports `degraded: simulated outage`, and healthy once
/// listening. Heartbeats come from the server's executor, so a wedged server is seen as hung.
/// SIGTERM stops the server and exits 0.
public struct SensorSimWorker {
    /// A bad command line, named.
    public struct UsageError: Error, CustomStringConvertible {
        public var description: String
    }

    let configuration: SensorSimServer.Configuration

    /// Parses the role's options.
    /// - Throws: `UsageError` naming the option, the value and what is expected.
    public init(arguments: [String]) throws(UsageError) {
        var port: UInt16?
        var configuration = SensorSimServer.Configuration(port: 0)
        var remaining = arguments[...]
        func value(_ flag: String) throws(UsageError) -> String {
            guard let next = remaining.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return next
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--port":
                let text = try value(flag)
                guard let number = UInt16(text), number >= 1 else {
                    throw UsageError(description: "--port expects 1...65535, got '\(text)'")
                }
                port = number
            case "--host": configuration.host = try value(flag)
            case "--records":
                let text = try value(flag)
                guard let count = Int(text), (0...TelemetryGenerator.maximumCount).contains(count) else {
                    throw UsageError(description: "--records expects a record count 0...\(TelemetryGenerator.maximumCount) "
                        + "(the simulated hours end in 2022), got '\(text)'")
                }
                configuration.records = count
            case "--follow-rate":
                let text = try value(flag)
                guard let rate = Double(text), rate.isFinite, rate >= 0, rate <= 1_000_000 else {
                    throw UsageError(description: "--follow-rate expects records per second 0...1000000, got '\(text)'")
                }
                configuration.followRate = rate
            case "--seed":
                let text = try value(flag)
                guard let seed = UInt64(text) else {
                    throw UsageError(description: "--seed expects an integer 0...\(UInt64.max), got '\(text)'")
                }
                configuration.seed = seed
            case "--profile":
                let text = try value(flag)
                guard let profile = SimulatorProfile(parsing: text) else {
                    throw UsageError(description: "--profile expects one of \(SimulatorProfile.names), got '\(text)'")
                }
                configuration.profile = profile
            case "--fault":
                let text = try value(flag)
                do {
                    configuration.faults.apply(try SimulatorFaults.parse(text))
                } catch {
                    throw UsageError(description: "--fault: \(error.description)")
                }
            default: throw UsageError(description: "unknown option '\(flag)' for role sensor-sim")
            }
        }
        guard let port else { throw UsageError(description: "role sensor-sim needs --port P (1...65535)") }
        configuration.port = port
        do {
            _ = try SensorSimServer.address(host: configuration.host, port: port)
        } catch {
            throw UsageError(description: "--host: \(error.description)")
        }
        self.configuration = configuration
    }

    /// Serves until SIGTERM (exit 0) or until the port cannot be bound (exit 1); never returns.
    public func run(context: WorkerContext) -> Never {
        Termination.install()
        // A client that hangs up mid-response must not kill the simulator.
        signal(SIGPIPE, SIG_IGN)
        let logger = Logger(label: "cidp.sensor-sim")
        let configuration = self.configuration
        let server: SensorSimServer
        do {
            server = try SensorSimServer(configuration: configuration, logger: logger)
        } catch {
            preconditionFailure("host '\(configuration.host)' was accepted by init: \(error)")
        }
        let faults = configuration.faults
        if faults.outage > .zero {
            // Up but not serving: the supervisor must see a live, degraded worker, not a failed start.
            context.ready()
            context.reportHealth(degraded: "simulated outage")
            logger.notice("Simulated outage: not listening", metadata: [
                "host": "\(configuration.host)", "port": "\(configuration.port)", "outage.seconds": "\(faults.outage.seconds)",
            ])
        }
        let heartbeats = Serving.heartbeats(context)
        let serving = Task.detached {
            do {
                try await server.run { port in
                    logger.notice("Sensor simulator listening", metadata: [
                        "host": "\(configuration.host)", "port": "\(port)", "records": "\(configuration.records)",
                        "seed": "\(configuration.seed)", "faults": "\(faults)",
                    ])
                    if faults.outage > .zero { context.reportHealth(degraded: nil) } else { context.ready() }
                }
            } catch {
                logger.error("Sensor simulator cannot serve", metadata: [
                    "host": "\(configuration.host)", "port": "\(configuration.port)", "error": "\(error)",
                ])
                exit(1)
            }
        }
        Serving.awaitTermination {
            // Stop first, then cancel: `stop` marks the server stopping before it closes the
            // socket, so the error `run` then ends with is the expected one. Cancelling first
            // raced it — FlyingFox's accept loop ends with `disconnected` before the mark, and
            // under load a job's clean stop printed "Sensor simulator cannot serve" and exited 1.
            await server.stop()
            serving.cancel()
            heartbeats.cancel()
        }
        logger.notice("Sensor simulator stopped", metadata: ["port": "\(configuration.port)"])
        exit(0)
    }
}
