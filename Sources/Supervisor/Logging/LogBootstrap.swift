import Logging

/// The root's two log destinations, opened once: the rotating JSON-lines file and the console.
///
/// Tests build handlers from this directly; only `main` hands it to `LoggingSystem.bootstrap`
/// (through ``LogBootstrap/bootstrap(settings:consoleLevelOverride:)``), which a process may do once.
public struct LogDestinations: Sendable {
    /// The live `cidp.log` and its rotations; close it at exit.
    public let file: RotatingFile
    /// The lowest level the file records (`[logging] file_level`, `info` by default).
    public let fileLevel: Logger.Level
    /// The lowest level printed on stderr.
    public let consoleLevel: Logger.Level
    /// The live view, when `cidp up` draws one: console lines print above it.
    public let terminal: LiveTerminal?

    public init(file: RotatingFile, fileLevel: Logger.Level = .info, consoleLevel: Logger.Level = .info,
                terminal: LiveTerminal? = nil) {
        self.file = file
        self.fileLevel = fileLevel
        self.consoleLevel = consoleLevel
        self.terminal = terminal
    }

    /// A handler for one logger: everything from `fileLevel` to the file, from `consoleLevel` to stderr.
    public func makeHandler(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> MultiplexLogHandler {
        MultiplexLogHandler([
            JSONLinesLogHandler(label: label, file: file, logLevel: fileLevel),
            ConsoleLogHandler(label: label, minimumLevel: consoleLevel, terminal: terminal),
        ], metadataProvider: metadataProvider)
    }
}

/// Sets up the root's logging from the policy's `LogSettings`.
public enum LogBootstrap {
    /// Opens `settings.directory/cidp.log` (creating the directory) and picks the levels.
    /// - Parameters:
    ///   - consoleLevelOverride: from the command line (`--log-level`, `--quiet`, or the live
    ///     view's floor); wins over `settings.consoleLevel`.
    ///   - terminal: the live view, when one is drawn.
    /// - Throws: `LoggingError` when the directory or file cannot be created, or the level name is unknown.
    public static func makeHandlers(settings: LogSettings, consoleLevelOverride: Logger.Level? = nil,
                                    terminal: LiveTerminal? = nil) throws -> LogDestinations {
        let consoleLevel = try consoleLevelOverride ?? level(named: settings.consoleLevel)
        let fileLevel = try level(named: settings.fileLevel)
        let file = try RotatingFile(directory: settings.directory, maxBytes: settings.maxBytes, keep: settings.keep)
        return LogDestinations(file: file, fileLevel: fileLevel, consoleLevel: consoleLevel, terminal: terminal)
    }

    /// ``makeHandlers(settings:consoleLevelOverride:)`` then `LoggingSystem.bootstrap` with them.
    /// Call once, from `main` only (swift-log traps on a second bootstrap).
    /// - Returns: the file, for `main` to close at exit.
    /// - Throws: `LoggingError`, before anything is bootstrapped.
    @discardableResult
    public static func bootstrap(settings: LogSettings, consoleLevelOverride: Logger.Level? = nil,
                                 terminal: LiveTerminal? = nil) throws -> RotatingFile {
        let destinations = try makeHandlers(settings: settings, consoleLevelOverride: consoleLevelOverride,
                                            terminal: terminal)
        LoggingSystem.bootstrap({ label, provider in
            destinations.makeHandler(label: label, metadataProvider: provider)
        }, metadataProvider: nil)
        return destinations.file
    }

    /// The swift-log level for a name (`trace` … `critical`, any case).
    /// - Throws: `LoggingError` `.unknownLevel`.
    public static func level(named name: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: name.lowercased()) else {
            throw LoggingError(code: .unknownLevel, subject: name)
        }
        return level
    }
}
