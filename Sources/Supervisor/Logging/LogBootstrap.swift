import Logging

/// The root's two log destinations, opened once: the rotating JSON-lines file and the console.
///
/// Tests build handlers from this directly; only `main` hands it to `LoggingSystem.bootstrap`
/// (through ``LogBootstrap/bootstrap(settings:consoleLevelOverride:)``), which a process may do once.
public struct LogDestinations: Sendable {
    /// The live `cidp.log` and its rotations; close it at exit.
    public let file: RotatingFile
    /// The lowest level the file records: `.debug`, or lower when the console asks for `.trace`.
    public let fileLevel: Logger.Level
    /// The lowest level printed on stderr.
    public let consoleLevel: Logger.Level

    public init(file: RotatingFile, fileLevel: Logger.Level = .debug, consoleLevel: Logger.Level = .info) {
        self.file = file
        self.fileLevel = fileLevel
        self.consoleLevel = consoleLevel
    }

    /// A handler for one logger: everything from `fileLevel` to the file, from `consoleLevel` to stderr.
    public func makeHandler(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> MultiplexLogHandler {
        MultiplexLogHandler([
            JSONLinesLogHandler(label: label, file: file, logLevel: fileLevel),
            ConsoleLogHandler(label: label, minimumLevel: consoleLevel),
        ], metadataProvider: metadataProvider)
    }
}

/// Sets up the root's logging from the policy's `LogSettings`.
public enum LogBootstrap {
    /// Opens `settings.directory/cidp.log` (creating the directory) and picks the levels.
    /// - Parameter consoleLevelOverride: from the command line; wins over `settings.consoleLevel`.
    /// - Throws: `LoggingError` when the directory or file cannot be created, or the level name is unknown.
    public static func makeHandlers(settings: LogSettings, consoleLevelOverride: Logger.Level? = nil) throws -> LogDestinations {
        let consoleLevel = try consoleLevelOverride ?? level(named: settings.consoleLevel)
        let file = try RotatingFile(directory: settings.directory, maxBytes: settings.maxBytes, keep: settings.keep)
        return LogDestinations(file: file, fileLevel: min(.debug, consoleLevel), consoleLevel: consoleLevel)
    }

    /// ``makeHandlers(settings:consoleLevelOverride:)`` then `LoggingSystem.bootstrap` with them.
    /// Call once, from `main` only (swift-log traps on a second bootstrap).
    /// - Returns: the file, for `main` to close at exit.
    /// - Throws: `LoggingError`, before anything is bootstrapped.
    @discardableResult
    public static func bootstrap(settings: LogSettings, consoleLevelOverride: Logger.Level? = nil) throws -> RotatingFile {
        let destinations = try makeHandlers(settings: settings, consoleLevelOverride: consoleLevelOverride)
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
