import PortableRandom
import Testing
@testable import Forest

@Suite struct FeatureMatrixTests {
    @Test func storesColumnsContiguouslyAndSelectsRows() {
        let x = FeatureMatrix(columns: [[1, 2, 3], [10, 20, 30]])
        #expect(x.rowCount == 3 && x.columnCount == 2)
        #expect(x[row: 1, column: 1] == 20)
        #expect(Array(x.column(0)) == [1, 2, 3])
        #expect(x.rows([2, 0]) == FeatureMatrix(columns: [[3, 1], [30, 10]]))
    }

    @Test func binsAreMidpointsBetweenFewDistinctValues() {
        let binned = BinnedFeatures(FeatureMatrix(columns: [[5, 1, 2, 2, 4]]), seed: 1)
        #expect(binned.edges == [[1.5, 3, 4.5]])
        #expect(binned.bins == [3, 0, 1, 1, 2])
    }

    @Test func manyDistinctValuesGet255QuantileBins() {
        let values = (0..<10_000).map { Double($0) }
        let binned = BinnedFeatures(FeatureMatrix(columns: [values]), sampleSize: 5_000, seed: 1)
        #expect(binned.edges[0].count == 254)
        #expect(binned.edges[0] == binned.edges[0].sorted())
        // Every bin holds a few dozen values: none is empty, none holds most.
        var counts = [Int](repeating: 0, count: 255)
        for bin in binned.bins { counts[Int(bin)] += 1 }
        #expect(counts.allSatisfy { $0 > 10 && $0 < 100 })
    }

    @Test func binningASubsetInPlaceIsBinningItsCopy() {
        let (x, _) = BoostedTrees.noisyTelemetry(rows: 3_000, seed: 2)
        let subset = (0..<x.rowCount).filter { $0 % 3 != 1 }.shuffled()
        for sampleSize in [100_000, 500] { // every value, then a sample
            let inPlace = BinnedFeatures(x, rows: subset, sampleSize: sampleSize, maxBins: 40, seed: 9)
            let copied = BinnedFeatures(x.rows(subset), sampleSize: sampleSize, maxBins: 40, seed: 9)
            #expect(inPlace.rowCount == subset.count && inPlace.featureCount == 6)
            #expect(inPlace.edges == copied.edges)
            #expect(inPlace.bins == copied.bins)
        }
    }

    @Test func theRadixSortOrdersAsTheComparisonSortDoes() {
        var random = SplitMix64(state: 3)
        var values: [Double] = [0, -0.0, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e-300, -1e300, 2, 2, 2]
        for _ in 0..<5_000 { values.append((random.nextUnit() - 0.5) * 1e6) }
        for _ in 0..<1_000 { values.append(Double(random.nextIndex(below: 7)) - 3) } // many ties
        let sorted = BinnedFeatures.sortedAscending(values)
        #expect(sorted == values.sorted()) // == does not tell −0 from +0, which the edges never do either
        #expect(BinnedFeatures.sortedAscending([]) == [])
        #expect(BinnedFeatures.sortedAscending([-0.0, 0, -0.0]).map(\.sign) == [.minus, .minus, .plus])
    }

    @Test func aValuesBinIsTheNumberOfEdgesBelowIt() {
        let edges: [Double] = [-2, 0, 0.5, 3, 7, 7.5, 100]
        edges.withUnsafeBufferPointer { edges in
            for value in [-5, -2, -1.9, 0, 0.25, 0.5, 3, 6, 7.25, 7.5, 99, 100, 1e9] {
                #expect(Int(BinnedFeatures.bin(of: value, edges: edges)) == edges.filter { $0 < value }.count, "\(value)")
            }
        }
        [Double]().withUnsafeBufferPointer { #expect(BinnedFeatures.bin(of: 1, edges: $0) == 0) }
    }

    @Test func syntheticTelemetryIsDeterministicAndAboutFivePercentFailures() {
        let (x, labels) = RandomForest.syntheticTelemetry(rows: 20_000, seed: 1)
        let (again, againLabels) = RandomForest.syntheticTelemetry(rows: 20_000, seed: 1)
        #expect(x == again && labels == againLabels)
        let rate = Double(labels.reduce(0) { $0 + Int($1) }) / 20_000
        #expect(rate > 0.04 && rate < 0.06)
        // Row 25 is pump 5's third reading: the mean of rows 5, 15 and 25.
        #expect(x[row: 25, column: 4] == (x[row: 5, column: 2] + x[row: 15, column: 2] + x[row: 25, column: 2]) / 3)
        #expect(x[row: 3, column: 5] == x[row: 3, column: 1])
    }
}
