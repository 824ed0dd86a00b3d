/// What a worker's next spawn must be told besides its spec: whether it resumes a halted chain,
/// and the item it keeps crashing on. The runtime turns it into environment variables
/// (`WireLayout.resumedVariable`, `poisonItemVariable`, `poisonEvidenceVariable`).
public struct SpawnContext: Sendable, Equatable {
    /// This start resumes a chain an operator had halted (`cidp resume`): this start only.
    public var isResumed: Bool
    /// The item the worker crashed on `poison_pill_crashes` times or more in a row, if any.
    public var poisonPill: PoisonPill?

    public init(isResumed: Bool = false, poisonPill: PoisonPill? = nil) {
        self.isResumed = isResumed
        self.poisonPill = poisonPill
    }
}

/// An item a worker crashed on again and again: what it is, how often, and how the crashes ended.
public struct PoisonPill: Sendable, Equatable {
    public var item: String
    /// Consecutive abnormal exits while working on `item`.
    public var crashes: Int
    /// How they ended, each once, in order of first occurrence: `killed by SIGABRT (core dumped)`,
    /// `exited with status 3`, `hung (killed by the watchdog)`, `not ready in time (killed)`.
    public var causes: [String]

    public init(item: String, crashes: Int, causes: [String]) {
        self.item = item
        self.crashes = crashes
        self.causes = causes
    }

    /// The most bytes of the worker's last output the evidence carries.
    public static let maxOutputBytes = 1500

    /// One line for the worker and the operator:
    /// `3 consecutive crashes on batch 17: killed by SIGABRT (core dumped); last output: a | b | c`.
    /// - Parameter lastOutput: the last lines the worker printed (stdout and stderr, oldest
    ///   first); joined with ` | `, control characters replaced by spaces, and cut to its last
    ///   `maxOutputBytes` bytes.
    public func evidence(lastOutput: [String]) -> String {
        var line = "\(crashes) consecutive crash\(crashes == 1 ? "" : "es") on \(item)"
        if !causes.isEmpty { line += ": " + causes.joined(separator: " / ") }
        let output = lastOutput.map(Self.withoutControlCharacters).joined(separator: " | ")
        line += output.isEmpty ? "; no output" : "; last output: " + Self.tail(of: output, maxBytes: Self.maxOutputBytes)
        return Self.withoutControlCharacters(line)
    }

    /// How an exit is described among the causes.
    static func cause(of status: ExitStatus) -> String {
        switch status {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal, let core):
            return "killed by \(ExitStatus.signalName(signal))\(core ? " (core dumped)" : "")"
        }
    }

    /// The text with every control character (newlines, NUL, escapes) replaced by a space, so it
    /// stays one line and can travel in an environment variable.
    static func withoutControlCharacters(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            scalar.value < 0x20 || scalar.value == 0x7F ? " " : scalar
        }))
    }

    /// The end of `text` in at most `maxBytes` bytes of UTF-8: `…` (3 bytes) and the last bytes,
    /// starting at a scalar boundary.
    static func tail(of text: String, maxBytes: Int) -> String {
        let utf8 = text.utf8
        guard utf8.count > maxBytes else { return text }
        var start = utf8.index(utf8.endIndex, offsetBy: -(maxBytes - 3))
        // Skip UTF-8 continuation bytes (10xxxxxx): the cut must not split a scalar.
        while start < utf8.endIndex, utf8[start] & 0xC0 == 0x80 { start = utf8.index(after: start) }
        return "…" + String(decoding: utf8[start...], as: UTF8.self)
    }
}
