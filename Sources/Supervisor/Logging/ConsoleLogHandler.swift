import LogFormat
import Logging
import Posix
import OperatorText

/// A swift-log handler printing readable lines on stderr:
/// `HH:MM:SS.mmm LEVEL label: message key=value key=value` (local time, keys sorted).
///
/// Each line goes out in one `write(2)` so lines from different threads do not interleave.
/// Entries below `minimumLevel` are never printed, even when a logger's level is lowered to feed
/// the log file: the console's level is fixed at bootstrap.
public struct ConsoleLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public let label: String
    /// The console's floor, from `LogSettings.consoleLevel` or the command line.
    public let minimumLevel: Logger.Level
    /// The live view when one is drawn: lines print above it, and progress lines (metadata
    /// `event=progress`) are left out, since the view shows progress itself.
    public let terminal: LiveTerminal?
    private let now: @Sendable () -> LogTimestamp

    public init(label: String, minimumLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
                terminal: LiveTerminal? = nil, now: @escaping @Sendable () -> LogTimestamp = LogTimestamp.now) {
        self.label = label
        self.terminal = terminal
        self.minimumLevel = minimumLevel
        self.logLevel = minimumLevel
        self.metadataProvider = metadataProvider
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard event.level >= minimumLevel else { return }
        if terminal != nil, case .string("progress")? = event.metadata?["event"] { return }
        let merged = LogMetadataRendering.merged(base: metadata, provider: metadataProvider,
                                                 explicit: event.metadata, error: event.error)
        var bytes = Array(Self.format(timestamp: now(), level: event.level, label: label,
                                      message: event.message.description,
                                      metadata: LogMetadataRendering.flattened(merged)).utf8)
        bytes.append(UInt8(ascii: "\n"))
        if let terminal {
            terminal.printAbove(bytes, logFD: .standardError)
        } else {
            Posix.writeFully(.standardError, bytes)
        }
    }

    /// The console line for one entry, without its newline.
    ///
    /// Control characters in the message, keys and values are escaped (`\n`, `\t`, `\u001b`…) so an
    /// entry stays one line and cannot drive the terminal; values that are empty or contain spaces,
    /// quotes or `=` are quoted.
    public static func format(timestamp: LogTimestamp, level: Logger.Level, label: String, message: String,
                              metadata: [String: String]) -> String {
        var line = timestamp.localTimeOfDay + " " + level.rawValue.uppercased() + " "
        line += escaped(label) + ": " + escaped(message)
        for key in metadata.keys.sorted() {
            line += " " + escaped(key) + "=" + quotedIfNeeded(metadata[key]!)
        }
        return line
    }

    private static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" }
        guard needsQuotes else { return escaped(value) }
        return "\"" + escaped(value).replacingAll("\"", with: "\\\"") + "\""
    }

    /// The shared sanitiser of operator output (`OperatorText`): `\n`, `\t`, `\u001b`….
    private static func escaped(_ text: String) -> String {
        OperatorText.escaped(text)
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}
