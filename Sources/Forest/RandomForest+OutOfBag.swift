import Dispatch
import PortableRandom

extension RandomForest {
    /// Each training row's out-of-bag probability: the mean leaf value over the trees whose
    /// bootstrap sample did not draw it (scikit-learn's `oob_decision_function_[:, 1]`), or NaN
    /// for a row every tree drew (about 0.37¹⁰⁰ of rows with 100 trees) or without bootstrap.
    ///
    /// `x` must be the matrix the forest was fitted on: the bootstrap samples are drawn again
    /// from (seed, tree index, row count), exactly as `fit` drew them. Trees add up in index order
    /// for every row, so the result does not depend on threads.
    /// - Parameter progress: called after each tree with the number of trees done.
    public func outOfBagProbability(_ x: FeatureMatrix, progress: ((_ treesDone: Int) -> Void)? = nil) -> [Double] {
        precondition(x.columnCount == featureCount, "\(x.columnCount) features, the forest was trained on \(featureCount)")
        let rowCount = x.rowCount
        guard parameters.bootstrap, rowCount > 0 else { return [Double](repeating: .nan, count: rowCount) }
        var sums = [Double](repeating: 0, count: rowCount)
        var counts = [Int32](repeating: 0, count: rowCount)
        var inBag = [UInt8](repeating: 0, count: rowCount)
        let chunkSize = 4096
        let chunkCount = (rowCount + chunkSize - 1) / chunkSize
        for (index, tree) in trees.enumerated() {
            // The same draws as `TreeGrower.grow(treeIndex:workspace:)`.
            var random = SplitMix64(seed: parameters.seed, stream: RandomStream.tree, index: UInt64(index))
            for row in 0..<rowCount { inBag[row] = 0 }
            for _ in 0..<rowCount { inBag[random.nextIndex(below: rowCount)] = 1 }
            sums.withUnsafeMutableBufferPointer { sums in
                counts.withUnsafeMutableBufferPointer { counts in
                    inBag.withUnsafeBufferPointer { inBag in
                        x.storage.withUnsafeBufferPointer { values in
                            let shared = OutOfBagBuffers(sums: sums, counts: counts, inBag: inBag, values: values)
                            DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                                let rows = chunk * chunkSize ..< min(rowCount, (chunk + 1) * chunkSize)
                                for row in rows where shared.inBag[row] == 0 {
                                    shared.sums[row] += tree.leafValue(values: shared.values, rowCount: rowCount, row: row)
                                    shared.counts[row] += 1
                                }
                            }
                        }
                    }
                }
            }
            progress?(index + 1)
        }
        return zip(sums, counts).map { $1 > 0 ? $0 / Double($1) : .nan }
    }
}

extension DecisionTree {
    /// The leaf value of row `row` of the column-major `values` (`rowCount` rows).
    func leafValue(values matrix: UnsafeBufferPointer<Double>, rowCount: Int, row: Int) -> Double {
        var node = 0
        while true {
            let feature = Int(features[node])
            if feature < 0 { return values[node] }
            node = Int(matrix[feature &* rowCount &+ row] <= thresholds[node] ? leftChildren[node] : rightChildren[node])
        }
    }
}

/// Buffers written at disjoint rows by concurrent chunks.
private struct OutOfBagBuffers: @unchecked Sendable {
    let sums: UnsafeMutableBufferPointer<Double>
    let counts: UnsafeMutableBufferPointer<Int32>
    let inBag: UnsafeBufferPointer<UInt8>
    let values: UnsafeBufferPointer<Double>
}
