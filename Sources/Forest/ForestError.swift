/// The one error of the `Forest` module: a serialized model (a forest or a boosted model)
/// that cannot be decoded.
///
/// `description` is one plain sentence naming the kind of model, what is wrong and where
/// (the byte offset).
public struct ForestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Equatable, Sendable {
        /// The input ends before the structure it announces.
        case truncated
        /// The input does not start with the magic bytes of the model kind being decoded.
        case badMagic
        /// The format version is not one this build reads.
        case unsupportedVersion(UInt8)
        /// The checksum over the payload does not match.
        case checksumMismatch
        /// The stored training parameters are out of range.
        case invalidParameters(String)
        /// A tree is malformed (bad feature, child, threshold or value).
        case invalidTree(index: Int, reason: String)
        /// Bytes follow the last tree.
        case trailingBytes(Int)
    }

    /// What went wrong.
    public let code: Code
    /// The byte offset in the input where the problem was found.
    public let offset: Int
    /// The kind of model being decoded.
    public let model: ModelKind

    /// An error with `code`, found at byte `offset` while decoding a `model`.
    public init(_ code: Code, offset: Int, model: ModelKind = .forest) {
        self.code = code
        self.offset = offset
        self.model = model
    }

    /// The same error, found while decoding a `model`.
    func decoding(_ model: ModelKind) -> ForestError {
        ForestError(code, offset: offset, model: model)
    }

    public var description: String {
        let what: String
        switch code {
        case .truncated: what = "input is truncated"
        case .badMagic: what = "not a serialized \(model.noun) (bad magic)"
        case .unsupportedVersion(let version): what = "unsupported format version \(version)"
        case .checksumMismatch: what = "checksum mismatch"
        case .invalidParameters(let reason): what = "invalid parameters: \(reason)"
        case .invalidTree(let index, let reason): what = "tree \(index) is invalid: \(reason)"
        case .trailingBytes(let count): what = "\(count) unexpected trailing bytes"
        }
        return "Cannot decode \(model.noun) at byte \(offset): \(what)"
    }
}
