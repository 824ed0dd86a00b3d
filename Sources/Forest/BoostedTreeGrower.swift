/// Grows one regression tree of a boosted model on the workspace's gradients and hessians:
/// leaf-wise (best-first by gain, up to `maxLeafNodes` leaves), as scikit-learn's
/// `HistGradientBoosting` `TreeGrower`.
///
/// A node's histogram (per feature and bin: sums of gradients, hessians, rows) is built from
/// its rows only for the smaller child of a split; the larger child's is the parent's minus
/// the smaller's. The split gain is `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`; a split must
/// leave `minSamplesLeaf` rows and a hessian of `minHessianToSplit` on each side and gain
/// more than 0. Leaves hold `−G/(H+λ) × learningRate`. Features are scanned in parallel,
/// each by one thread, so the tree does not depend on the thread count.
struct BoostedTreeGrower {
    let binned: BinnedFeatures
    let parameters: BoostedParameters
    let threadCount: Int

    /// A leaf of a grown tree: its node, its rows `workspace.rows[start..<end]` and its value.
    struct Leaf {
        var node: Int
        var start: Int
        var end: Int
        var value: Double
    }

    /// The best split of a node found so far (gain 0: none): "bin ≤ `bin` of `feature` goes left".
    struct SplitCandidate: Sendable {
        var gain = 0.0
        var feature = -1
        var bin = 0
        var leftGradient = 0.0
        var leftHessian = 0.0
        var leftCount = 0
    }

    /// A node being grown: its rows `start..<end`, sums, histogram and best split.
    struct GrowingNode {
        var node: Int
        var start: Int
        var end: Int
        var depth: Int
        var gradient: Double
        var hessian: Double
        var histogram: UnsafeMutableBufferPointer<GradientBin>?
        var split = SplitCandidate()

        var count: Int { end - start }
    }

    /// The tree so far, its finished leaves and the nodes that may still be split.
    private struct Growth {
        var tree = DecisionTree()
        var leaves = [Leaf]()
        var splittable = [GrowingNode]()

        /// The splittable node of highest gain, removed; ties go to the node queued first.
        mutating func takeBest() -> GrowingNode? {
            guard !splittable.isEmpty else { return nil }
            var pick = 0
            for index in splittable.indices where splittable[index].split.gain > splittable[pick].split.gain { pick = index }
            return splittable.remove(at: pick)
        }
    }

    /// Grows a tree on `workspace.gradients` and `.hessians`; the leaves' row ranges refer
    /// to `workspace.rows` as the tree leaves it.
    func grow(workspace: BoostingWorkspace) -> (tree: DecisionTree, leaves: [Leaf]) {
        var growth = Growth()
        let root = makeRoot(tree: &growth.tree, workspace: workspace)
        settle(root, in: &growth, workspace: workspace)
        let maxLeaves = parameters.maxLeafNodes ?? Int.max
        var leafCount = 1
        while let parent = growth.takeBest() {
            var (left, right) = split(parent, tree: &growth.tree, workspace: workspace)
            leafCount += 1
            if leafCount >= maxLeaves {
                workspace.release(parent.histogram)
                finalize(left, in: &growth, workspace: workspace)
                finalize(right, in: &growth, workspace: workspace)
                break
            }
            examineChildren(&left, &right, parent: parent, workspace: workspace)
            workspace.release(parent.histogram)
            settle(left, in: &growth, workspace: workspace)
            settle(right, in: &growth, workspace: workspace)
        }
        for node in growth.splittable { finalize(node, in: &growth, workspace: workspace) }
        return (growth.tree, growth.leaves)
    }

    /// The root over every row, with its histogram and best split when it may be split.
    private func makeRoot(tree: inout DecisionTree, workspace: BoostingWorkspace) -> GrowingNode {
        let rowCount = binned.rowCount
        var gradient = 0.0
        var hessian = 0.0
        for row in 0..<rowCount {
            workspace.rows[row] = UInt32(truncatingIfNeeded: row)
            gradient += Double(workspace.gradients[row])
            hessian += Double(workspace.hessians[row])
        }
        var root = GrowingNode(node: tree.appendLeaf(value: 0), start: 0, end: rowCount, depth: 0,
                               gradient: gradient, hessian: hessian)
        if rowCount >= 2 * parameters.minSamplesLeaf && hessian >= BoostedParameters.minHessianToSplit {
            root.histogram = workspace.takeHistogram()
            var none: GrowingNode? = nil
            examine(small: &root, smallWantsSplit: true, large: &none, largeWantsSplit: false, parent: nil,
                    isRoot: true, workspace: workspace)
        }
        return root
    }

    /// Splits `parent` as its best split says: partitions its rows, turns its node into a
    /// split and returns the two children (no histograms yet).
    private func split(
        _ parent: GrowingNode, tree: inout DecisionTree, workspace: BoostingWorkspace
    ) -> (left: GrowingNode, right: GrowingNode) {
        let split = parent.split
        let middle = partition(parent, workspace: workspace)
        precondition(middle - parent.start == split.leftCount, "partition disagrees with the histogram")
        let leftNode = tree.appendLeaf(value: 0)
        let rightNode = tree.appendLeaf(value: 0)
        tree.makeSplit(parent.node, feature: split.feature, threshold: binned.edges[split.feature][split.bin],
                       left: leftNode, right: rightNode)
        let depth = parent.depth + 1
        let left = GrowingNode(node: leftNode, start: parent.start, end: middle, depth: depth,
                               gradient: split.leftGradient, hessian: split.leftHessian)
        let right = GrowingNode(node: rightNode, start: middle, end: parent.end, depth: depth,
                                gradient: parent.gradient - split.leftGradient, hessian: parent.hessian - split.leftHessian)
        return (left, right)
    }

    /// Gives both children histograms and best splits, when either may be split: the
    /// smaller's histogram from its rows, the larger's by subtraction from `parent`'s.
    private func examineChildren(
        _ left: inout GrowingNode, _ right: inout GrowingNode, parent: GrowingNode, workspace: BoostingWorkspace
    ) {
        let maxDepth = parameters.maxDepth ?? Int.max
        let minLeaf = parameters.minSamplesLeaf
        let leftWantsSplit = left.depth < maxDepth && left.count >= 2 * minLeaf
        let rightWantsSplit = right.depth < maxDepth && right.count >= 2 * minLeaf
        guard leftWantsSplit || rightWantsSplit else { return }
        // Both histograms even when one child stays a leaf: the second is a cheap subtraction.
        left.histogram = workspace.takeHistogram()
        right.histogram = workspace.takeHistogram()
        if left.count <= right.count {
            var large: GrowingNode? = right
            examine(small: &left, smallWantsSplit: leftWantsSplit, large: &large, largeWantsSplit: rightWantsSplit,
                    parent: parent.histogram, isRoot: false, workspace: workspace)
            right = large!
        } else {
            var large: GrowingNode? = left
            examine(small: &right, smallWantsSplit: rightWantsSplit, large: &large, largeWantsSplit: leftWantsSplit,
                    parent: parent.histogram, isRoot: false, workspace: workspace)
            left = large!
        }
    }

    /// Queues `node` to be split when it has a split worth making, else makes it a leaf.
    private func settle(_ node: GrowingNode, in growth: inout Growth, workspace: BoostingWorkspace) {
        if node.split.gain > 0 { growth.splittable.append(node) } else { finalize(node, in: &growth, workspace: workspace) }
    }

    /// Makes `node` a leaf of value `−G/(H+λ+10⁻¹⁵) × learningRate` and frees its histogram.
    private func finalize(_ node: GrowingNode, in growth: inout Growth, workspace: BoostingWorkspace) {
        workspace.release(node.histogram)
        // scikit-learn's `compute_node_value` adds 1e-15 too: when every row's probability has
        // underflowed to its label, G = H = 0, and the leaf must be 0, not NaN.
        let value = -node.gradient / (node.hessian + parameters.l2Regularization + 1e-15) * parameters.learningRate
        growth.tree.values[node.node] = value
        growth.leaves.append(Leaf(node: node.node, start: node.start, end: node.end, value: value))
    }
}
