/// The binary format of a forest, version 1, little-endian:
///
/// ```
/// magic "CIDPRF" · version u8 = 1
/// parameters: treeCount u32 · maxDepth i32 (−1: none) · minSamplesLeaf u32 · minSamplesSplit u32
///             maxFeatures u8 (0 sqrt, 1 log2, 2 all, 3 count) · count u32 · bootstrap u8
///             classWeight u8 (0 none, 1 balanced) · seed u64
/// featureCount u32 · treeCount u32 (= parameters' treeCount)
/// per tree: nodeCount u32, then per node: feature i32 (−1 leaf) and
///           leaf: value f64 ∈ [0, 1] | split: threshold f64 (not NaN) · left u32 · right u32
/// checksum u64: FNV-1a over every byte before it
/// ```
///
/// Children must have larger indices than their parent (so every walk ends) and every
/// node but the root must be some node's child exactly once.
extension RandomForest {
    static let magic: [UInt8] = Array("CIDPRF".utf8)
    static let formatVersion: UInt8 = 1

    /// The forest in the versioned binary format above.
    public func encoded() -> [UInt8] {
        var out = ByteWriter()
        out.bytes.append(contentsOf: Self.magic)
        out.u8(Self.formatVersion)
        out.u32(UInt32(parameters.treeCount))
        out.u32(UInt32(bitPattern: Int32(parameters.maxDepth ?? -1)))
        out.u32(UInt32(parameters.minSamplesLeaf))
        out.u32(UInt32(parameters.minSamplesSplit))
        switch parameters.maxFeatures {
        case .sqrt: out.u8(0); out.u32(0)
        case .log2: out.u8(1); out.u32(0)
        case .all: out.u8(2); out.u32(0)
        case .count(let k): out.u8(3); out.u32(UInt32(k))
        }
        out.u8(parameters.bootstrap ? 1 : 0)
        out.u8(parameters.classWeight == .balanced ? 1 : 0)
        out.u64(parameters.seed)
        out.u32(UInt32(featureCount))
        out.u32(UInt32(trees.count))
        for tree in trees { Self.encode(tree, into: &out) }
        out.u64(fnv1a(out.bytes[...]))
        return out.bytes
    }

    /// Appends `tree` as the format above lays it out: node count, then node by node.
    static func encode(_ tree: DecisionTree, into out: inout ByteWriter) {
        out.u32(UInt32(tree.nodeCount))
        for node in 0..<tree.nodeCount {
            out.u32(UInt32(bitPattern: tree.features[node]))
            if tree.features[node] < 0 {
                out.u64(tree.values[node].bitPattern)
            } else {
                out.u64(tree.thresholds[node].bitPattern)
                out.u32(UInt32(tree.leftChildren[node]))
                out.u32(UInt32(tree.rightChildren[node]))
            }
        }
    }

    /// Decodes a forest from `encoded()` output, checking everything.
    /// - Throws: `ForestError` naming the first problem and its byte offset.
    public init(decoding bytes: [UInt8]) throws(ForestError) {
        var input = ByteReader(bytes: bytes)
        guard bytes.count >= Self.magic.count + 1 + 8 else { throw ForestError(.truncated, offset: bytes.count) }
        guard Array(bytes[..<Self.magic.count]) == Self.magic else { throw ForestError(.badMagic, offset: 0) }
        input.offset = Self.magic.count
        let version = try input.u8()
        guard version == Self.formatVersion else { throw ForestError(.unsupportedVersion(version), offset: input.offset - 1) }
        let body = bytes.count - 8
        var checksumReader = ByteReader(bytes: bytes)
        checksumReader.offset = body
        guard try checksumReader.u64() == fnv1a(bytes[..<body]) else { throw ForestError(.checksumMismatch, offset: body) }
        input.end = body

        let parametersOffset = input.offset
        let treeCount = Int(try input.u32())
        let maxDepth = Int(Int32(bitPattern: try input.u32()))
        let minSamplesLeaf = Int(try input.u32())
        let minSamplesSplit = Int(try input.u32())
        let featuresTag = try input.u8()
        let featuresCount = Int(try input.u32())
        let maxFeatures: ForestParameters.MaxFeatures
        switch featuresTag {
        case 0: maxFeatures = .sqrt
        case 1: maxFeatures = .log2
        case 2: maxFeatures = .all
        case 3: maxFeatures = .count(featuresCount)
        default: throw ForestError(.invalidParameters("unknown max-features kind \(featuresTag)"), offset: input.offset - 5)
        }
        let bootstrap = try input.u8()
        let classWeight = try input.u8()
        guard bootstrap <= 1, classWeight <= 1 else {
            throw ForestError(.invalidParameters("bootstrap \(bootstrap) or class weight \(classWeight) not 0 or 1"), offset: input.offset - 2)
        }
        guard maxDepth == -1 || maxDepth >= 1 else {
            throw ForestError(.invalidParameters("max depth \(maxDepth)"), offset: parametersOffset + 4)
        }
        let parameters = ForestParameters(
            treeCount: treeCount, maxDepth: maxDepth == -1 ? nil : maxDepth,
            minSamplesLeaf: minSamplesLeaf, minSamplesSplit: minSamplesSplit, maxFeatures: maxFeatures,
            bootstrap: bootstrap == 1, classWeight: classWeight == 1 ? .balanced : .none, seed: try input.u64()
        )
        if let invalidity = parameters.invalidity { throw ForestError(.invalidParameters(invalidity), offset: parametersOffset) }
        let featureCount = Int(try input.u32())
        guard featureCount >= 1 && featureCount <= Int(Int32.max) else {
            throw ForestError(.invalidParameters("feature count \(featureCount)"), offset: input.offset - 4)
        }
        let storedTreeCount = Int(try input.u32())
        guard storedTreeCount == treeCount else {
            throw ForestError(.invalidParameters("\(storedTreeCount) trees stored, \(treeCount) trained"), offset: input.offset - 4)
        }
        var trees = [DecisionTree]()
        for index in 0..<treeCount {
            trees.append(try Self.decodeTree(index: index, featureCount: featureCount, from: &input))
        }
        guard input.offset == input.end else { throw ForestError(.trailingBytes(input.end - input.offset), offset: input.offset) }
        self.init(parameters: parameters, featureCount: featureCount, trees: trees)
    }

    /// What a leaf may hold: a forest's class-1 fraction or a boosted model's log-odds increment.
    enum LeafValues {
        /// A fraction in [0, 1].
        case fraction
        /// Any finite number.
        case finite

        /// Why `value` cannot be a leaf value, or `nil` when it can.
        func invalidity(of value: Double) -> String? {
            switch self {
            case .fraction: value >= 0 && value <= 1 ? nil : "leaf value \(value) outside [0, 1]"
            case .finite: value.isFinite ? nil : "leaf value \(value) is not finite"
            }
        }
    }

    /// Decodes and checks tree `index`, whose leaves must hold `leafValues`.
    static func decodeTree(
        index: Int, featureCount: Int, leafValues: LeafValues = .fraction, from input: inout ByteReader
    ) throws(ForestError) -> DecisionTree {
        let countOffset = input.offset
        let nodeCount = Int(try input.u32())
        // A leaf takes at least 12 bytes: a count beyond what is left is a lie, not a reason to allocate.
        guard nodeCount >= 1, nodeCount <= (input.end - input.offset) / 12 else {
            throw ForestError(.invalidTree(index: index, reason: "node count \(nodeCount)"), offset: countOffset)
        }
        var tree = DecisionTree()
        var isChild = [Bool](repeating: false, count: nodeCount)
        for node in 0..<nodeCount {
            let nodeOffset = input.offset
            let feature = Int32(bitPattern: try input.u32())
            func invalid(_ reason: String) -> ForestError {
                ForestError(.invalidTree(index: index, reason: "node \(node): \(reason)"), offset: nodeOffset)
            }
            if feature == -1 {
                let value = Double(bitPattern: try input.u64())
                if let reason = leafValues.invalidity(of: value) { throw invalid(reason) }
                _ = tree.appendLeaf(value: value)
                continue
            }
            guard feature >= 0 && Int(feature) < featureCount else { throw invalid("feature \(feature) outside 0..<\(featureCount)") }
            let threshold = Double(bitPattern: try input.u64())
            let left = Int(try input.u32())
            let right = Int(try input.u32())
            guard !threshold.isNaN else { throw invalid("threshold is NaN") }
            for child in [left, right] {
                guard child > node && child < nodeCount else { throw invalid("child \(child) outside \(node + 1)..<\(nodeCount)") }
                guard !isChild[child] else { throw invalid("node \(child) has two parents") }
                isChild[child] = true
            }
            let id = tree.appendLeaf(value: 0)
            tree.makeSplit(id, feature: Int(feature), threshold: threshold, left: left, right: right)
        }
        if let orphan = (1..<nodeCount).first(where: { !isChild[$0] }) {
            throw ForestError(.invalidTree(index: index, reason: "node \(orphan) has no parent"), offset: countOffset)
        }
        return tree
    }
}

/// FNV-1a, 64-bit: the format's checksum against accidental corruption (not an authenticator).
func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

/// Appends little-endian integers.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) } }
    mutating func u64(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) } }
}

/// Reads little-endian integers up to `end`, throwing `truncated` past it.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    var end: Int

    init(bytes: [UInt8]) {
        self.bytes = bytes
        end = bytes.count
    }

    mutating func u8() throws(ForestError) -> UInt8 {
        guard offset < end else { throw ForestError(.truncated, offset: offset) }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func u32() throws(ForestError) -> UInt32 {
        UInt32(truncatingIfNeeded: try little(4))
    }

    mutating func u64() throws(ForestError) -> UInt64 {
        try little(8)
    }

    private mutating func little(_ count: Int) throws(ForestError) -> UInt64 {
        guard end - offset >= count else { throw ForestError(.truncated, offset: offset) }
        var value: UInt64 = 0
        for k in 0..<count { value |= UInt64(bytes[offset + k]) << (8 * k) }
        offset += count
        return value
    }
}
