/// Which kind of failure model a serialized blob holds, told by its magic bytes: a blob of
/// one kind is never decoded as the other.
public enum ModelKind: String, CaseIterable, Sendable {
    /// A `RandomForest` (magic `CIDPRF`).
    case forest
    /// A `BoostedTrees` model (magic `CIDPGB`).
    case boosted

    /// The magic bytes every blob of this kind starts with.
    var magic: [UInt8] {
        switch self {
        case .forest: RandomForest.magic
        case .boosted: BoostedTrees.magic
        }
    }

    /// What an error message calls a model of this kind.
    var noun: String {
        switch self {
        case .forest: "forest"
        case .boosted: "boosted model"
        }
    }

    /// The kind of model `bytes` claims to hold, from its magic bytes alone (decoding still
    /// checks everything else), or `nil` when it starts with neither magic.
    public init?(ofEncoded bytes: [UInt8]) {
        guard let kind = Self.allCases.first(where: { bytes.starts(with: $0.magic) }) else { return nil }
        self = kind
    }
}
