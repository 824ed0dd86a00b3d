/// The binary format of a boosted model, version 1, little-endian:
///
/// ```
/// magic "CIDPGB" · version u8 = 1
/// parameters: learningRate f64 · maxIterations u32 · maxLeafNodes i32 (−1: none)
///             maxDepth i32 (−1: none) · minSamplesLeaf u32 · l2Regularization f64 · maxBins u32
///             earlyStopping u8 (0 auto, 1 on, 2 off) · validationFraction f64
///             iterationsWithoutChange u32 · tolerance f64 · seed u64
/// featureCount u32 · baseline f64 (finite) · treeCount u32 (1 ... maxIterations)
/// per tree: as in the forest's format (`RandomForest+Encoding.swift`), but a leaf value
///           is any finite f64 (a log-odds increment)
/// checksum u64: FNV-1a over every byte before it
/// ```
extension BoostedTrees {
    static let magic: [UInt8] = Array("CIDPGB".utf8)
    static let formatVersion: UInt8 = 1

    /// The model in the versioned binary format above.
    public func encoded() -> [UInt8] {
        var out = ByteWriter()
        out.bytes.append(contentsOf: Self.magic)
        out.u8(Self.formatVersion)
        out.u64(parameters.learningRate.bitPattern)
        out.u32(UInt32(parameters.maxIterations))
        out.u32(UInt32(bitPattern: Int32(parameters.maxLeafNodes ?? -1)))
        out.u32(UInt32(bitPattern: Int32(parameters.maxDepth ?? -1)))
        out.u32(UInt32(parameters.minSamplesLeaf))
        out.u64(parameters.l2Regularization.bitPattern)
        out.u32(UInt32(parameters.maxBins))
        switch parameters.earlyStopping {
        case .auto: out.u8(0)
        case .on: out.u8(1)
        case .off: out.u8(2)
        }
        out.u64(parameters.validationFraction.bitPattern)
        out.u32(UInt32(parameters.iterationsWithoutChange))
        out.u64(parameters.tolerance.bitPattern)
        out.u64(parameters.seed)
        out.u32(UInt32(featureCount))
        out.u64(baseline.bitPattern)
        out.u32(UInt32(trees.count))
        for tree in trees { RandomForest.encode(tree, into: &out) }
        out.u64(fnv1a(out.bytes[...]))
        return out.bytes
    }

    /// Decodes a model from `encoded()` output, checking everything: a forest's blob, a
    /// truncated or corrupt one is refused, never misread.
    /// - Throws: `ForestError` (of model kind `.boosted`) naming the first problem and its byte offset.
    public init(decoding bytes: [UInt8]) throws(ForestError) {
        do throws(ForestError) {
            self = try Self.decode(bytes)
        } catch {
            throw error.decoding(.boosted)
        }
    }

    /// Decodes `bytes`: header, checksum, parameters, trees.
    private static func decode(_ bytes: [UInt8]) throws(ForestError) -> BoostedTrees {
        var input = ByteReader(bytes: bytes)
        guard bytes.count >= magic.count + 1 + 8 else { throw ForestError(.truncated, offset: bytes.count) }
        guard Array(bytes[..<magic.count]) == magic else { throw ForestError(.badMagic, offset: 0) }
        input.offset = magic.count
        let version = try input.u8()
        guard version == formatVersion else { throw ForestError(.unsupportedVersion(version), offset: input.offset - 1) }
        let body = bytes.count - 8
        var checksumReader = ByteReader(bytes: bytes)
        checksumReader.offset = body
        guard try checksumReader.u64() == fnv1a(bytes[..<body]) else { throw ForestError(.checksumMismatch, offset: body) }
        input.end = body

        let parameters = try decodeParameters(from: &input)
        let featureCount = Int(try input.u32())
        guard featureCount >= 1 && featureCount <= Int(Int32.max) else {
            throw ForestError(.invalidParameters("feature count \(featureCount)"), offset: input.offset - 4)
        }
        let baseline = Double(bitPattern: try input.u64())
        guard baseline.isFinite else { throw ForestError(.invalidParameters("baseline \(baseline) is not finite"), offset: input.offset - 8) }
        let treeCount = Int(try input.u32())
        guard treeCount >= 1 && treeCount <= parameters.maxIterations else {
            throw ForestError(.invalidParameters("\(treeCount) trees stored, at most \(parameters.maxIterations) trained"), offset: input.offset - 4)
        }
        var trees = [DecisionTree]()
        for index in 0..<treeCount {
            trees.append(try RandomForest.decodeTree(index: index, featureCount: featureCount, leafValues: .finite, from: &input))
        }
        guard input.offset == input.end else { throw ForestError(.trailingBytes(input.end - input.offset), offset: input.offset) }
        return BoostedTrees(parameters: parameters, featureCount: featureCount, baseline: baseline, trees: trees)
    }

    /// Decodes and checks the training parameters.
    private static func decodeParameters(from input: inout ByteReader) throws(ForestError) -> BoostedParameters {
        let parametersOffset = input.offset
        let learningRate = Double(bitPattern: try input.u64())
        let maxIterations = Int(try input.u32())
        let maxLeafNodes = Int(Int32(bitPattern: try input.u32()))
        let maxDepth = Int(Int32(bitPattern: try input.u32()))
        let minSamplesLeaf = Int(try input.u32())
        let l2Regularization = Double(bitPattern: try input.u64())
        let maxBins = Int(try input.u32())
        let earlyStoppingTag = try input.u8()
        let earlyStopping: BoostedParameters.EarlyStopping
        switch earlyStoppingTag {
        case 0: earlyStopping = .auto
        case 1: earlyStopping = .on
        case 2: earlyStopping = .off
        default: throw ForestError(.invalidParameters("early stopping tag \(earlyStoppingTag)"), offset: input.offset - 1)
        }
        let validationFraction = Double(bitPattern: try input.u64())
        let iterationsWithoutChange = Int(try input.u32())
        let tolerance = Double(bitPattern: try input.u64())
        let seed = try input.u64()
        guard maxLeafNodes == -1 || maxLeafNodes >= 2, maxDepth == -1 || maxDepth >= 1 else {
            throw ForestError(.invalidParameters("max leaf nodes \(maxLeafNodes) or max depth \(maxDepth)"), offset: parametersOffset + 12)
        }
        let parameters = BoostedParameters(
            learningRate: learningRate, maxIterations: maxIterations,
            maxLeafNodes: maxLeafNodes == -1 ? nil : maxLeafNodes, maxDepth: maxDepth == -1 ? nil : maxDepth,
            minSamplesLeaf: minSamplesLeaf, l2Regularization: l2Regularization, maxBins: maxBins,
            earlyStopping: earlyStopping, validationFraction: validationFraction,
            iterationsWithoutChange: iterationsWithoutChange, tolerance: tolerance, seed: seed
        )
        if let invalidity = parameters.invalidity { throw ForestError(.invalidParameters(invalidity), offset: parametersOffset) }
        return parameters
    }
}
