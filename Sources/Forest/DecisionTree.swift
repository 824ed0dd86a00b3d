/// One CART tree as flat parallel arrays, indexed by node (the root is node 0).
///
/// An internal node sends `x[feature] ≤ threshold` to `leftChildren[node]` and the rest to
/// `rightChildren[node]`; a leaf has `features[node] == -1` and holds in `values[node]`
/// its value: in a forest the weighted fraction of class 1 among its training samples, in
/// a boosted model a shrunk log-odds increment. Children always have
/// larger indices than their parent, which decoding checks, so every walk ends.
struct DecisionTree: Equatable, Sendable {
    /// The split feature of each node, or -1 for a leaf.
    var features: [Int32] = []
    /// The split threshold of each node (unused in leaves: 0).
    var thresholds: [Double] = []
    /// The left child of each node (unused in leaves: 0).
    var leftChildren: [Int32] = []
    /// The right child of each node (unused in leaves: 0).
    var rightChildren: [Int32] = []
    /// The value of each leaf (internal nodes: 0, not serialized).
    var values: [Double] = []

    /// The number of nodes.
    var nodeCount: Int { features.count }

    /// Appends a node that is a leaf until `makeSplit` turns it into a split; returns its index.
    mutating func appendLeaf(value: Double) -> Int {
        features.append(-1)
        thresholds.append(0)
        leftChildren.append(0)
        rightChildren.append(0)
        values.append(value)
        return features.count - 1
    }

    /// Turns `node` into a split on `feature` at `threshold` with the given children.
    mutating func makeSplit(_ node: Int, feature: Int, threshold: Double, left: Int, right: Int) {
        features[node] = Int32(feature)
        thresholds[node] = threshold
        leftChildren[node] = Int32(left)
        rightChildren[node] = Int32(right)
        values[node] = 0
    }

    /// The depth of the deepest leaf (a lone root is depth 0).
    var depth: Int {
        guard nodeCount > 0 else { return 0 }
        var depths = [Int](repeating: 0, count: nodeCount)
        var deepest = 0
        for node in 0..<nodeCount where features[node] >= 0 {
            depths[Int(leftChildren[node])] = depths[node] + 1
            depths[Int(rightChildren[node])] = depths[node] + 1
            deepest = max(deepest, depths[node] + 1)
        }
        return deepest
    }

    /// Adds this tree's leaf value for every row of `rows` of the column-major `values`
    /// (`rowCount` rows) to `sums[row - rows.lowerBound]`.
    func accumulate(
        values matrix: UnsafeBufferPointer<Double>, rowCount: Int,
        rows: Range<Int>, into sums: UnsafeMutableBufferPointer<Double>
    ) {
        features.withUnsafeBufferPointer { features in
            thresholds.withUnsafeBufferPointer { thresholds in
                leftChildren.withUnsafeBufferPointer { lefts in
                    rightChildren.withUnsafeBufferPointer { rights in
                        values.withUnsafeBufferPointer { leafValues in
                            for row in rows {
                                var node = 0
                                while true {
                                    let feature = Int(features[node])
                                    if feature < 0 { break }
                                    let x = matrix[feature &* rowCount &+ row]
                                    node = Int(x <= thresholds[node] ? lefts[node] : rights[node])
                                }
                                sums[row - rows.lowerBound] += leafValues[node]
                            }
                        }
                    }
                }
            }
        }
    }
}
