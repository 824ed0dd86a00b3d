import ArgumentParser
import Posix
import Logging
import OperatorText
import PolicyRoles
import Supervisor
import TreeMetrics
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the nightly job: load what the source has past the warehouse's last batch, train, exit.",
        discussion: """
            With --follow, run continuously until 'cidp stop', SIGTERM or SIGINT. Exit codes: 0 done (or a \
            --follow tree stopped); 1 halted, failed or gave up; 2 usage or configuration error, nothing started; \
            3 a job interrupted before it was done (the next one continues where the warehouse stands).
            """)

    @Option(help: "The policy file describing the tree.") var policy: String = "policies/default.toml"
    @OptionGroup var control: RunDirectoryOption
    @OptionGroup var job: JobOptions
    @Option(help: "Console log level (trace, debug, info, notice, warning, error, critical); overrides the policy. With the live view, lines at this level and above print above it (warning by default).")
    var logLevel: String?
    @Flag(help: "Print only the summary and errors: no live view, no progress lines.")
    var quiet = false

    func run() throws {
        // Every check before anything is created (UpStart): the arguments first.
        var consoleLevel: Logger.Level?
        if let logLevel {
            do { consoleLevel = try LogBootstrap.level(named: logLevel) } catch {
                throw CLIExit.usage("--log-level: \(error)")
            }
        }
        // Then, before anything can start a thread: every thread must inherit the blocked mask,
        // or a SIGTERM could land on one and kill the root without an orderly shutdown.
        let signalFD: FileDescriptor
        do {
            signalFD = try SupervisorRuntime.takeOverSignals()
        } catch {
            throw CLIExit(code: ExitCode.failure, message: "\(error)")
        }
        // Re-executed by `cidp upgrade --root`: the previous image of this root hands over the
        // running tree, and this run goes on as that one (same run id, ports, locks, start time).
        let handover: RootHandover?
        do { handover = try RootHandover.received() } catch {
            throw CLIExit(code: ExitCode.failure, message: "cannot take over the running tree: \(error)")
        }
        let carried = handover.map { UpHandover(host: $0.host) }
        let started = carried?.started ?? Posix.monotonicNow()
        let runID = carried?.runID ?? JobOptions.newRunID()
        let simulatorPort: UInt16
        do {
            simulatorPort = try carried?.simulatorPort ?? (job.usesSimulator ? try Posix.freeLoopbackPort() : 0)
        } catch {
            throw CLIExit(code: ExitCode.failure, message: "cannot find a free loopback port for the simulator: \(error)")
        }
        // The policy as this run reads it, at start and at every reload: the same job options,
        // the same simulator port and run id, so an unchanged file is an unchanged tree.
        let job = self.job, policy = self.policy
        // The binary the workers run: the one this run started from, kept across a re-exec of the
        // root into another binary (`cidp upgrade --root --exe`), which moves the root alone.
        let workerExecutable = carried?.workerExecutable ?? Posix.executablePath()
        let readPolicy = { () throws(CLIExit) -> Policy in
            let loaded: Policy
            do {
                loaded = job.apply(to: try PolicyLoader.load(path: policy, executable: workerExecutable,
                                                             roles: WorkerRole.policySchemas),
                                   simulatorPort: simulatorPort, runID: runID)
            } catch {
                throw CLIExit.usage("\(error)")
            }
            do { try JobOptions.validateWorkerArguments(in: loaded) } catch let error as PolicyError {
                throw CLIExit.usage("\(error)")
            } catch {
                throw CLIExit.usage("policy '\(policy)': \(error)")
            }
            do throws(PipelineChain.Misplaced) { try PipelineChain.check(loaded.root) } catch {
                throw CLIExit.usage("policy '\(policy)': \(error)")
            }
            return loaded
        }
        let loaded = try readPolicy()
        // A predictor's address set in the policy must be free: refused here (exit 2), before
        // anything is created, rather than a worker failing at start until its node gives up.
        // Not on a re-exec: the running tree's own predictor holds it.
        if handover == nil {
            try Self.checkPredictorAddresses(in: loaded.root, policy: policy)
        }
        let roles = JobOptions.roles(in: loaded.root)
        let hasLoader = roles.contains(WorkerRole.loader.rawValue)
        // A job ends when its last stage says so; a tree with no such stage runs until stopped.
        let isJob = !job.follow && (hasLoader || roles.contains(WorkerRole.trainer.rawValue))
        // The metrics listener, bound before anything is created: binding creates nothing on disk,
        // and a taken or unusable address the policy asked for is refused here (exit 2).
        let metricsListener: MetricsListener.Opened
        if let carried {
            metricsListener = carried.metrics
        } else {
            do { metricsListener = try MetricsListener.open(loaded.metrics) } catch {
                throw CLIExit.usage("policy '\(policy)': \(error)")
            }
        }
        // The locks, the warehouse and the logs directory, checked; a refusal removes what it made.
        let start: UpStart
        if let carried {
            start = carried.start(runDirectory: control.runDirectory, database: hasLoader ? job.db : nil)
        } else {
            start = try UpStart(runDirectory: control.runDirectory, database: hasLoader ? job.db : nil,
                                logsDirectory: loaded.logging.directory)
            start.commit(runDirectory: control.runDirectory)
        }
        defer { withExtendedLifetime(start) {} }

        // Committed: from here on the start creates what it needs (a re-executed root finds it made).
        if hasLoader, handover == nil {
            let warehouse: Warehouse
            do { warehouse = try Warehouse(path: job.db, busyTimeout: .seconds(5)) } catch {
                throw CLIExit.usage("--db: \(error)")
            }
            if job.resume {
                do {
                    let halts = try warehouse.openHalts()
                    _ = try warehouse.resumeHalts()
                    for halt in halts {
                        print(OperatorText.escaped(
                            "resumed: batch \(halt.batchID) stays in quarantine (gate '\(halt.gate)': \(halt.reason))"))
                    }
                } catch {
                    throw CLIExit(code: ExitCode.failure, message: "--resume: \(error)")
                }
            }
        }
        // The console: a live view when standard output is a terminal, lines otherwise; --quiet
        // neither. With the view, log lines print above it from warning up unless --log-level says.
        let terminal = quiet ? nil : LiveTerminal.onStandardOutput()
        if quiet {
            consoleLevel = .error
        } else if terminal != nil, consoleLevel == nil {
            let configured = (try? LogBootstrap.level(named: loaded.logging.consoleLevel)) ?? .info
            consoleLevel = max(configured, .warning)
        }
        let consoleOptions = ConsoleOptions(terminal: terminal,
                                            stages: job.stageDisplays(checkpointBefore: start.checkpointBefore),
                                            title: job.consoleTitle)
        let logFile: RotatingFile
        do {
            logFile = try LogBootstrap.bootstrap(settings: loaded.logging, consoleLevelOverride: consoleLevel,
                                                 terminal: terminal)
        } catch {
            throw CLIExit.usage("logging.dir '\(loaded.logging.directory)': \(error)")
        }
        defer { logFile.close() }
        // Without --follow an integrity gate's halt ends the run: exit 1 naming the node, the
        // worker and the reason. With --follow the chain is held down until 'cidp resume'.
        let runtime = SupervisorRuntime(policy: loaded, runDirectory: control.runDirectory,
                                        logger: Logger(label: "cidp.supervisor"), commandLine: Worker.commandLine, haltEndsRun: !job.follow, isJob: isJob,
                                        console: consoleOptions)
        runtime.policySource = { () throws -> Policy in
            do throws(CLIExit) { return try readPolicy() } catch { throw ReloadError(description: error.message) }
        }
        if let handover { runtime.adopt(handover) }
        runtime.handoverHost = {
            UpHandover.carry(runID: runID, simulatorPort: simulatorPort, started: started, metrics: metricsListener,
                             start: start, workerExecutable: workerExecutable)
        }
        startMetrics(metricsListener, runtime: runtime, database: hasLoader ? job.db : nil,
                     actions: loaded.metrics.allowsActions, runDirectory: control.runDirectory)
        let outcome: SupervisorRuntime.Outcome
        do {
            outcome = try runtime.run(signalFD: signalFD, runLock: start.runLock)
        } catch {
            throw CLIExit.usage("\(error)")
        }
        if hasLoader, let summary = JobSummary(databasePath: job.db, before: start.checkpointBefore,
                                               elapsed: Posix.monotonicNow() - started, exitCode: outcome.exitCode) {
            print(summary.text)
        }
        if outcome.exitCode != ExitCode.success { throw CLIExit(code: outcome.exitCode, message: outcome.message) }
    }
}

extension Up {
    /// Binds, then closes, every predictor address the policy sets (`listen`); the default
    /// address is best effort (see `PredictorWorker`) and not checked.
    /// - Throws: `CLIExit.usage` naming the worker and the address.
    static func checkPredictorAddresses(in root: NodeSpec, policy: String) throws(CLIExit) {
        for spec in root.workers where spec.role == WorkerRole.predictor.rawValue {
            guard let options = try? PredictorOptions(arguments: spec.arguments),
                  options.isAddressExplicit else { continue }
            do {
                let (fd, _) = try Posix.listenTCP(host: options.host, port: options.port)
                Posix.close(fd)
            } catch {
                throw CLIExit.usage("policy '\(policy)': workers.\(spec.name).listen \"\(options.host):\(options.port)\": "
                    + "cannot listen there: \(error)")
            }
        }
    }
}

/// A policy that a reload could not read, in the words `cidp up` would have used at start.
struct ReloadError: Error, CustomStringConvertible {
    var description: String
}

extension Up {
    /// Starts the metrics listener's thread, fed by the runtime's snapshots and, with a loader,
    /// the warehouse's figures read at each scrape (docs/METRICS.md).
    func startMetrics(_ opened: MetricsListener.Opened, runtime: SupervisorRuntime, database: String?,
                      actions: Bool, runDirectory: RunDirectory) {
        let logger = Logger(label: "cidp.metrics")
        switch opened {
        case .off:
            logger.info("Metrics off ([metrics] listen = \"\")")
        case .defaultTaken(let why):
            logger.warning("Metrics not served", metadata: ["reason": "\(why)"])
        case .listening(let listener):
            let board = MetricsBoard()
            runtime.snapshotPublisher = { board.publish($0) }
            let reader: (@Sendable () -> WarehouseFigures?)? = database.map { path in
                { @Sendable () -> WarehouseFigures? in
                    guard Warehouse.exists(path), let figures = try? Warehouse.figures(path: path) else { return nil }
                    var result = WarehouseFigures(
                        extracted: figures.totals.extracted, loaded: figures.totals.loaded,
                        dropped: figures.totals.dropped, quarantined: figures.totals.quarantined,
                        gateViolations: figures.quarantinedBatchesByGate, checkpointBatch: figures.checkpointBatch,
                        lastCommit: figures.checkpointUpdatedAt.map(Double.init),
                        modelROCAUC: figures.servingModelROCAUC, modelTrainedAt: figures.servingModelCreatedAt.map(Double.init))
                    result.quarantine = figures.newestQuarantine.map {
                        .init(batch: $0.batchID, gate: $0.gate, action: $0.action.rawValue, reason: $0.reason,
                              records: $0.recordCount, quarantinedAt: $0.quarantinedAt, resumedAt: $0.resumedAt)
                    }
                    result.models = figures.models.map {
                        .init(version: $0.version, status: $0.status, createdAt: $0.createdAt, rocAUC: $0.rocAUC, rows: $0.rows)
                    }
                    return result
                }
            }
            MetricsServer(listener: listener, board: board, version: BuildInfo.version, warehouse: reader,
                          actions: actions ? .overControlSocket(runDirectory) : nil).start()
            logger.notice("Metrics serving", metadata: [
                "metrics.url": "http://\(listener.address)/metrics", "web.actions": "\(actions ? "on" : "off")",
            ])
        }
    }
}

/// `cidp worker ROLE [OPTIONS…]`: the one place the launch convention lives. The policy gives a
/// worker a role and its arguments (`ChildSpec`); the root starts it as `commandLine(spec)`.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one worker role (internal: the supervisor starts these).", shouldDisplay: false)

    /// A worker's argv: this very subcommand of the spec's executable, with its role and arguments.
    static func commandLine(_ spec: ChildSpec) -> [String] {
        [spec.executable, "worker", spec.role] + spec.arguments
    }

    @Argument(help: "The role: \(WorkerRole.allCases.map(\.rawValue).joined(separator: ", ")).")
    var role: WorkerRole
    @Argument(parsing: .captureForPassthrough, help: "Options of the role.")
    var options: [String] = []

    func run() throws {
        if let companion = role.companionExecutable {
            // Before anything else, so nothing of this process (threads, limits) is half set up.
            let failure = WorkerRole.execCompanion(companion, besides: Posix.executablePath(), arguments: options)
            throw CLIExit(code: 2, message: "worker \(role.rawValue): \(failure)")
        }
        let context = WorkerContext()
        LoggingSystem.bootstrap { label in WorkerLogHandler(label: label) }
        do {
            try role.run(arguments: options, context: context)
        } catch {
            throw CLIExit.usage("worker \(role.rawValue): \(error)")
        }
    }
}

extension WorkerRole: ExpressibleByArgument {}
