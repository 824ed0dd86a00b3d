/// Why the transformer could not do what it was asked; `description` is one line.
public struct TransformError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Code: Equatable, Sendable {
        /// Persisted rolling-window state does not decode; the string says what and where.
        case badWindowState(String)
        /// Persisted transformer state (windows and reference profile) does not decode.
        case badTransformerState(String)
    }

    /// What went wrong.
    public var code: Code

    /// An error with `code`.
    public init(_ code: Code) {
        self.code = code
    }

    /// One line, for example `rolling window state: unknown format 7 (at byte 1 of 40)`.
    public var description: String {
        switch code {
        case .badWindowState(let what): "rolling window state: \(what)"
        case .badTransformerState(let what): "transformer state: \(what)"
        }
    }
}
