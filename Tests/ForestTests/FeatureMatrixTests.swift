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
