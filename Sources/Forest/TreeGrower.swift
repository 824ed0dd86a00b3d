import PortableRandom

/// Grows CART trees (Gini impurity on weighted class counts) over binned features.
///
/// A node's samples are a range of one `UInt32` row-index array, partitioned in place
/// (stably, through one scratch array) when the node splits; no data is copied per node.
/// A split search builds a 255-bin histogram (count, weight of class 0, weight of class 1)
/// per candidate feature and scans it once.
struct TreeGrower: Sendable {
    let binned: BinnedFeatures
    let labels: [UInt8]
    /// The weight of each class, `[w0, w1]`.
    let classWeights: [Double]
    let parameters: ForestParameters
    let candidateCount: Int

    /// Scratch memory of one worker thread, reused tree after tree.
    struct Workspace {
        var weights: [Double]
        var rows: [UInt32]
        var scratch: [UInt32]
        var counts = [Int32](repeating: 0, count: BinnedFeatures.maxBinCount)
        var classSums = [Double](repeating: 0, count: 2 * BinnedFeatures.maxBinCount)
        var features: [Int]

        init(rowCount: Int, featureCount: Int) {
            weights = [Double](repeating: 0, count: rowCount)
            rows = [UInt32](repeating: 0, count: rowCount)
            scratch = [UInt32](repeating: 0, count: rowCount)
            features = Array(0..<featureCount)
        }
    }

    /// A pending node: its samples `rows[start..<end]`, depth and class weights.
    private struct Pending {
        var node: Int
        var start: Int
        var end: Int
        var depth: Int
        var weight0: Double
        var weight1: Double
    }

    /// The best split found so far at a node.
    private struct Split {
        var proxy = -Double.infinity
        var feature = -1
        var bin = 0
    }

    /// Tree `index` of the forest: its bootstrap sample and every feature draw come from
    /// (`parameters.seed`, `index`) only.
    func grow(treeIndex index: Int, workspace: inout Workspace) -> DecisionTree {
        var random = SplitMix64(seed: parameters.seed, stream: RandomStream.tree, index: UInt64(index))
        let rowCount = binned.rowCount
        // Bootstrap: draw n rows with replacement; a row's weight is its draw count times
        // its class weight, and rows never drawn are left out (as scikit-learn's splitter
        // skips zero weights).
        var sampleCount = 0
        workspace.weights.withUnsafeMutableBufferPointer { weights in
            workspace.rows.withUnsafeMutableBufferPointer { rows in
                labels.withUnsafeBufferPointer { labels in
                    if parameters.bootstrap {
                        for row in 0..<rowCount { weights[row] = 0 }
                        for _ in 0..<rowCount { weights[random.nextIndex(below: rowCount)] += 1 }
                    } else {
                        for row in 0..<rowCount { weights[row] = 1 }
                    }
                    for row in 0..<rowCount where weights[row] > 0 {
                        weights[row] *= classWeights[Int(labels[row])]
                        rows[sampleCount] = UInt32(truncatingIfNeeded: row)
                        sampleCount += 1
                    }
                }
            }
        }
        return grow(sampleCount: sampleCount, random: &random, workspace: &workspace)
    }

    /// Grows a tree over `workspace.rows[0..<sampleCount]` weighted by `workspace.weights`.
    private func grow(sampleCount: Int, random: inout SplitMix64, workspace: inout Workspace) -> DecisionTree {
        var tree = DecisionTree()
        let maxDepth = parameters.maxDepth ?? Int.max
        let minLeaf = parameters.minSamplesLeaf
        let minSplit = max(parameters.minSamplesSplit, 2 * minLeaf)
        let rowCount = binned.rowCount
        let featureCount = binned.featureCount
        var features = workspace.features

        var rootWeights = (0.0, 0.0)
        for k in 0..<sampleCount {
            let row = Int(workspace.rows[k])
            if labels[row] == 0 { rootWeights.0 += workspace.weights[row] } else { rootWeights.1 += workspace.weights[row] }
        }
        let root = tree.appendLeaf(value: Self.fraction(rootWeights.0, rootWeights.1))
        var stack = [Pending(node: root, start: 0, end: sampleCount, depth: 0, weight0: rootWeights.0, weight1: rootWeights.1)]

        binned.bins.withUnsafeBufferPointer { bins in
        labels.withUnsafeBufferPointer { labels in
        workspace.weights.withUnsafeBufferPointer { weights in
        workspace.rows.withUnsafeMutableBufferPointer { rows in
        workspace.scratch.withUnsafeMutableBufferPointer { scratch in
        workspace.counts.withUnsafeMutableBufferPointer { counts in
        workspace.classSums.withUnsafeMutableBufferPointer { classSums in
            while let pending = stack.popLast() {
                let sampleCount = pending.end - pending.start
                let isPure = pending.weight0 <= 0 || pending.weight1 <= 0
                if isPure || pending.depth >= maxDepth || sampleCount < minSplit { continue }
                let total = pending.weight0 + pending.weight1

                // Draw candidate features without replacement; a feature constant in this node
                // does not count towards `candidateCount`, so the draw goes on (scikit-learn).
                var best = Split()
                var visited = 0
                var drawn = 0
                while drawn < featureCount && visited < candidateCount {
                    let pick = drawn + random.nextIndex(below: featureCount - drawn)
                    features.swapAt(drawn, pick)
                    let feature = features[drawn]
                    drawn += 1
                    let binCount = binned.edges[feature].count + 1
                    for bin in 0..<binCount { counts[bin] = 0 }
                    for slot in 0..<(2 * binCount) { classSums[slot] = 0 }
                    let column = feature &* rowCount
                    for k in pending.start..<pending.end {
                        let row = Int(rows[k])
                        let bin = Int(bins[column &+ row])
                        counts[bin] &+= 1
                        classSums[2 &* bin &+ Int(labels[row])] += weights[row]
                    }
                    var occupied = 0
                    for bin in 0..<binCount where counts[bin] > 0 { occupied += 1; if occupied > 1 { break } }
                    if occupied < 2 { continue }
                    visited += 1

                    // Scan the histogram: left = bins ≤ b. Maximising Σ_children Σ_c w_c² / w_child
                    // is minimising the weighted Gini impurity of the children.
                    var leftCount = 0
                    var left0 = 0.0
                    var left1 = 0.0
                    for bin in 0..<(binCount - 1) {
                        let count = Int(counts[bin])
                        if count == 0 { continue }
                        leftCount += count
                        left0 += classSums[2 * bin]
                        left1 += classSums[2 * bin + 1]
                        let rightCount = sampleCount - leftCount
                        if rightCount == 0 || rightCount < minLeaf { break }
                        if leftCount < minLeaf { continue }
                        let leftWeight = left0 + left1
                        let right0 = pending.weight0 - left0
                        let right1 = pending.weight1 - left1
                        let rightWeight = total - leftWeight
                        guard leftWeight > 0, rightWeight > 0 else { continue }
                        let proxy = (left0 * left0 + left1 * left1) / leftWeight
                            + (right0 * right0 + right1 * right1) / rightWeight
                        if proxy > best.proxy {
                            best = Split(proxy: proxy, feature: feature, bin: bin)
                        }
                    }
                }
                guard best.feature >= 0 else { continue }

                // Stable in-place partition: left rows stay in place, right rows go through scratch.
                let column = best.feature &* rowCount
                // The children's class weights are summed afresh (not subtracted), so a pure
                // child has exactly zero weight of the other class.
                var leftEnd = pending.start
                var rightCount = 0
                var childWeights = (0.0, 0.0, 0.0, 0.0) // left 0, left 1, right 0, right 1
                for k in pending.start..<pending.end {
                    let row = rows[k]
                    let weight = weights[Int(row)]
                    let isClass1 = labels[Int(row)] != 0
                    if Int(bins[column &+ Int(row)]) <= best.bin {
                        rows[leftEnd] = row
                        leftEnd += 1
                        if isClass1 { childWeights.1 += weight } else { childWeights.0 += weight }
                    } else {
                        scratch[rightCount] = row
                        rightCount += 1
                        if isClass1 { childWeights.3 += weight } else { childWeights.2 += weight }
                    }
                }
                for k in 0..<rightCount { rows[leftEnd + k] = scratch[k] }

                let (left0, left1, right0, right1) = childWeights
                let leftNode = tree.appendLeaf(value: Self.fraction(left0, left1))
                let rightNode = tree.appendLeaf(value: Self.fraction(right0, right1))
                tree.makeSplit(pending.node, feature: best.feature, threshold: binned.edges[best.feature][best.bin],
                               left: leftNode, right: rightNode)
                stack.append(Pending(node: rightNode, start: leftEnd, end: pending.end, depth: pending.depth + 1,
                                     weight0: right0, weight1: right1))
                stack.append(Pending(node: leftNode, start: pending.start, end: leftEnd, depth: pending.depth + 1,
                                     weight0: left0, weight1: left1))
            }
        }}}}}}}
        return tree
    }

    /// The class-1 fraction of weights (`weight0`, `weight1`), clamped to [0, 1] against
    /// rounding in the subtractions that give right-child weights.
    static func fraction(_ weight0: Double, _ weight1: Double) -> Double {
        let w0 = max(0, weight0)
        let w1 = max(0, weight1)
        let total = w0 + w1
        return total > 0 ? min(1, w1 / total) : 0
    }
}
