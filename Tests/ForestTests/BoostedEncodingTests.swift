import PortableRandom
import Testing
@testable import Forest

@Suite struct BoostedEncodingTests {
    /// A small trained model: 3 iterations of at most 4 leaves.
    static func small() -> BoostedTrees {
        let (x, labels) = BoostedTrees.noisyTelemetry(rows: 2_000, seed: 4)
        return BoostedTrees.fit(x, labels: labels, parameters: BoostedParameters(maxIterations: 3, maxLeafNodes: 4))
    }

    /// The byte offset of the first tree's node count: magic 6, version 1, parameters 65,
    /// feature count 4, baseline 8, tree count 4.
    static let firstTreeOffset = 6 + 1 + 65 + 4 + 8 + 4

    /// The error decoding a boosted model throws for `code` at `offset`.
    static func boosted(_ code: ForestError.Code, _ offset: Int) -> ForestError {
        ForestError(code, offset: offset, model: .boosted)
    }

    @Test func aDecodedModelIsEqualAndPredictsBitIdentically() throws {
        let (x, labels) = BoostedTrees.noisyTelemetry(rows: 3_000, seed: 9)
        let parameters = BoostedParameters(maxIterations: 12, maxDepth: 6, l2Regularization: 0.5, maxBins: 64, seed: 7)
        let model = BoostedTrees.fit(x, labels: labels, parameters: parameters)
        let decoded = try BoostedTrees(decoding: model.encoded())
        #expect(decoded == model)
        #expect(decoded.parameters == parameters)
        #expect(decoded.iterationCount == 12)
        #expect(decoded.predictProbability(x).map(\.bitPattern) == model.predictProbability(x).map(\.bitPattern))
        #expect(decoded.encoded() == model.encoded())
    }

    @Test func theKindOfABlobIsToldByItsMagic() {
        #expect(ModelKind(ofEncoded: Self.small().encoded()) == .boosted)
        #expect(ModelKind(ofEncoded: ForestEncodingTests.handMade().encoded()) == .forest)
        #expect(ModelKind(ofEncoded: Array("CIDPR".utf8)) == nil)
        #expect(ModelKind(ofEncoded: []) == nil)
    }

    @Test func eitherKindDecodesThroughItsKind() throws {
        let boosted = Self.small()
        let forest = ForestEncodingTests.handMade()
        let decodedBoosted = try ModelKind.boosted.decode(boosted.encoded())
        let decodedForest = try ModelKind.forest.decode(forest.encoded())
        #expect(decodedBoosted as? BoostedTrees == boosted)
        #expect(decodedForest as? RandomForest == forest)
        #expect(type(of: decodedBoosted).kind == .boosted && type(of: decodedForest).kind == .forest)
        #expect(ModelKind(rawValue: "boosted") == .boosted && ModelKind.forest.rawValue == "forest")
        #expect(throws: Self.boosted(.badMagic, 0)) { try ModelKind.boosted.decode(forest.encoded()) }
        #expect(throws: ForestError(.badMagic, offset: 0)) { try ModelKind.forest.decode(boosted.encoded()) }
    }

    @Test func aForestIsNotABoostedModelNorTheOtherWayRound() {
        let forest = ForestEncodingTests.handMade().encoded()
        #expect(throws: Self.boosted(.badMagic, 0)) { try BoostedTrees(decoding: forest) }
        #expect(throws: ForestError(.badMagic, offset: 0)) { try RandomForest(decoding: Self.small().encoded()) }
        #expect(Self.boosted(.badMagic, 0).description == "Cannot decode boosted model at byte 0: not a serialized boosted model (bad magic)")
    }

    @Test func everyTruncationIsRefusedWithoutACrash() {
        let bytes = Self.small().encoded()
        for length in 0..<bytes.count {
            #expect(throws: ForestError.self) { try BoostedTrees(decoding: Array(bytes[..<length])) }
        }
        #expect(throws: Self.boosted(.truncated, 10)) { try BoostedTrees(decoding: Array(bytes[..<10])) }
    }

    @Test func everyFlippedByteIsRefused() {
        let bytes = Self.small().encoded()
        for offset in bytes.indices {
            var corrupt = bytes
            corrupt[offset] ^= 0x10
            #expect(throws: ForestError.self) { try BoostedTrees(decoding: corrupt) }
        }
        var corrupt = bytes
        corrupt[Self.firstTreeOffset + 10] ^= 0x10
        #expect(throws: Self.boosted(.checksumMismatch, bytes.count - 8)) { try BoostedTrees(decoding: corrupt) }
    }

    @Test func garbageBehindTheMagicWithAValidChecksumIsRefused() {
        var random = SplitMix64(state: 2)
        for length in [16, 53, 100, 1_000] {
            for _ in 0..<50 {
                var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                bytes.replaceSubrange(0..<7, with: BoostedTrees.magic + [1])
                bytes = ForestEncodingTests.patched(bytes, at: 0, with: [])
                #expect(throws: ForestError.self) { try BoostedTrees(decoding: bytes) }
            }
        }
    }

    @Test func corruptParametersWithAValidChecksumAreRefusedByName() {
        let bytes = Self.small().encoded()
        let patched = ForestEncodingTests.patched
        #expect(throws: Self.boosted(.unsupportedVersion(2), 6)) { try BoostedTrees(decoding: patched(bytes, 6, [2])) }
        let negativeRate = patched(bytes, 7, Array((-0.1).bitPattern.littleEndianBytes))
        #expect(throws: Self.boosted(.invalidParameters("learning rate -0.1 outside (0, 1000]"), 7)) {
            try BoostedTrees(decoding: negativeRate)
        }
        #expect(throws: Self.boosted(.invalidParameters("early stopping tag 9"), 7 + 36)) {
            try BoostedTrees(decoding: patched(bytes, 7 + 36, [9]))
        }
        let infiniteBaseline = patched(bytes, 7 + 65 + 4, Array(Double.infinity.bitPattern.littleEndianBytes))
        #expect(throws: Self.boosted(.invalidParameters("baseline inf is not finite"), 7 + 65 + 4)) {
            try BoostedTrees(decoding: infiniteBaseline)
        }
        #expect(throws: Self.boosted(.invalidParameters("0 trees stored, at most 3 trained"), Self.firstTreeOffset - 4)) {
            try BoostedTrees(decoding: patched(bytes, Self.firstTreeOffset - 4, [0, 0, 0, 0]))
        }
        #expect(throws: Self.boosted(.invalidParameters("4 trees stored, at most 3 trained"), Self.firstTreeOffset - 4)) {
            try BoostedTrees(decoding: patched(bytes, Self.firstTreeOffset - 4, [4, 0, 0, 0]))
        }
        let trailing = patched(bytes + [0], bytes.count - 8, Array(repeating: 0, count: 9))
        #expect(throws: Self.boosted(.trailingBytes(1), bytes.count - 8)) { try BoostedTrees(decoding: trailing) }
    }

    @Test func corruptTreesWithAValidChecksumAreRefusedByName() throws {
        let model = Self.small()
        let bytes = model.encoded()
        let patched = ForestEncodingTests.patched
        // The first tree's root is a split (4 + 8 + 4 + 4 bytes); its children follow it.
        let nodeCount = model.trees[0].nodeCount
        try #require(nodeCount > 1)
        let root = Self.firstTreeOffset + 4
        #expect(throws: Self.boosted(.invalidTree(index: 0, reason: "node 0: child 0 outside 1..<\(nodeCount)"), root)) {
            try BoostedTrees(decoding: patched(bytes, root + 12, [0, 0, 0, 0]))
        }
        #expect(throws: Self.boosted(.invalidTree(index: 0, reason: "node 0: feature 6 outside 0..<6"), root)) {
            try BoostedTrees(decoding: patched(bytes, root, [6, 0, 0, 0]))
        }
        // Node 1 follows the root's 20 bytes; make it a leaf holding NaN whatever it was.
        let nanLeaf = patched(bytes, root + 20, [0xFF, 0xFF, 0xFF, 0xFF] + Double.nan.bitPattern.littleEndianBytes)
        #expect(throws: ForestError.self) { try BoostedTrees(decoding: nanLeaf) }
        if model.trees[0].features[1] < 0 {
            #expect(throws: Self.boosted(.invalidTree(index: 0, reason: "node 1: leaf value nan is not finite"), root + 20)) {
                try BoostedTrees(decoding: nanLeaf)
            }
        }
    }
}

extension UInt64 {
    /// The eight bytes, least significant first.
    var littleEndianBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) } }
}
