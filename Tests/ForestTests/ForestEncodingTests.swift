import PortableRandom
import Testing
@testable import Forest

@Suite struct ForestEncodingTests {
    /// One tree: x0 ≤ 2.5 → leaf 0.25, else leaf 1; featureCount 2.
    static func handMade() -> RandomForest {
        var tree = DecisionTree()
        let root = tree.appendLeaf(value: 0.4)
        let left = tree.appendLeaf(value: 0.25)
        let right = tree.appendLeaf(value: 1)
        tree.makeSplit(root, feature: 0, threshold: 2.5, left: left, right: right)
        return RandomForest(parameters: ForestParameters(treeCount: 1), featureCount: 2, trees: [tree])
    }

    /// `bytes` with byte `offset…` replaced by `patch` and the checksum recomputed.
    static func patched(_ bytes: [UInt8], at offset: Int, with patch: [UInt8]) -> [UInt8] {
        var bytes = bytes
        bytes.replaceSubrange(offset..<offset + patch.count, with: patch)
        let body = bytes.count - 8
        let checksum = fnv1a(bytes[..<body])
        for k in 0..<8 { bytes[body + k] = UInt8(truncatingIfNeeded: checksum >> (8 * k)) }
        return bytes
    }

    @Test func theEncodingIsAllocatedAtItsExactSize() {
        let (x, labels) = RandomForest.syntheticTelemetry(rows: 2_000, seed: 9)
        let flipped = labels.indices.map { $0 % 11 == 0 ? 1 - labels[$0] : labels[$0] }
        let bytes = RandomForest.fit(x, labels: flipped, parameters: ForestParameters(treeCount: 6)).encoded()
        // Reserved up front, not doubled into: the allocator may round up by a few bytes.
        #expect(bytes.count > 10_000 && (0...16).contains(bytes.capacity - bytes.count), "\(bytes.count) of \(bytes.capacity)")
        #expect(Self.handMade().encoded().capacity - Self.handMade().encoded().count <= 16)
    }

    @Test func aDecodedForestIsEqualAndPredictsBitIdentically() throws {
        let (x, labels) = RandomForest.syntheticTelemetry(rows: 2_000, seed: 9)
        let forest = RandomForest.fit(x, labels: labels, parameters: ForestParameters(treeCount: 10, maxDepth: 12, minSamplesLeaf: 2, maxFeatures: .count(3)))
        let decoded = try RandomForest(decoding: forest.encoded())
        #expect(decoded == forest)
        #expect(decoded.parameters == forest.parameters)
        #expect(decoded.predictProbability(x).map(\.bitPattern) == forest.predictProbability(x).map(\.bitPattern))
        #expect(decoded.encoded() == forest.encoded())
    }

    @Test func theHandMadeLayoutIsAsDocumented() throws {
        let bytes = Self.handMade().encoded()
        // header 46, node count 4, split 4 + 8 + 4 + 4, two leaves 12 each, checksum 8
        #expect(bytes.count == 46 + 4 + 20 + 24 + 8)
        #expect(try RandomForest(decoding: bytes).predictProbability(FeatureMatrix(columns: [[2.5, 2.6], [0, 0]])) == [0.25, 1])
    }

    @Test func everyTruncationThrows() {
        let bytes = Self.handMade().encoded()
        for length in 0..<bytes.count {
            #expect(throws: ForestError.self) { try RandomForest(decoding: Array(bytes[..<length])) }
        }
    }

    @Test func everyFlippedByteThrows() {
        let bytes = Self.handMade().encoded()
        for offset in bytes.indices {
            var corrupt = bytes
            corrupt[offset] ^= 0x10
            #expect(throws: ForestError.self) { try RandomForest(decoding: corrupt) }
        }
    }

    @Test func structuralLiesThrowEvenWithAValidChecksum() {
        let bytes = Self.handMade().encoded()
        let cases: [(Int, [UInt8], String)] = [
            (6, [2], "unsupported format version 2"),
            (7, [0, 0, 0, 0], "tree count 0"),
            (38, [0, 0, 0, 0], "feature count 0"),
            (42, [2, 0, 0, 0], "2 trees stored, 1 trained"),
            (46, [0xFF, 0xFF, 0xFF, 0x7F], "node count"),
            (50, [7, 0, 0, 0], "feature 7 outside 0..<2"),
            (54, [0, 0, 0, 0, 0, 0, 0xF8, 0x7F], "threshold is NaN"),
            (62, [0, 0, 0, 0], "child 0 outside 1..<3"),
            (66, [1, 0, 0, 0], "node 1 has two parents"),
            (74, [0, 0, 0, 0, 0, 0, 0xF0, 0x3F + 0x40], "outside [0, 1]"),
        ]
        for (offset, patch, expected) in cases {
            do {
                _ = try RandomForest(decoding: Self.patched(bytes, at: offset, with: patch))
                Issue.record("patch at \(offset) decoded")
            } catch {
                #expect(error.description.contains(expected), "\(error.description)")
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func garbageThrowsAndNeverTraps() {
        var random = SplitMix64(state: 1)
        for length in [0, 1, 7, 20, 53, 100, 1_000] {
            for _ in 0..<50 {
                var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if length >= 7 { bytes.replaceSubrange(0..<7, with: RandomForest.magic + [1]) }
                if length >= 16 { bytes = Self.patched(bytes, at: 0, with: []) }
                #expect(throws: ForestError.self) { try RandomForest(decoding: bytes) }
            }
        }
        #expect(throws: ForestError(.badMagic, offset: 0)) { try RandomForest(decoding: Array("NOTAFORESTATALL!".utf8)) }
    }
}
