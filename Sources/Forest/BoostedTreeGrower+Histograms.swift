import Dispatch

/// The histogram side of growing a boosted tree: filling and subtracting histograms,
/// scanning them for the best split, and partitioning a node's rows.
extension BoostedTreeGrower {
    /// Builds `small`'s histogram from its rows (all rows, in order, for the root) and
    /// `large`'s as `parent − small`, then finds the best split of each that wants one.
    func examine(
        small: inout GrowingNode, smallWantsSplit: Bool,
        large: inout GrowingNode?, largeWantsSplit: Bool,
        parent: UnsafeMutableBufferPointer<GradientBin>?, isRoot: Bool, workspace: BoostingWorkspace
    ) {
        let featureCount = binned.featureCount
        let start = small.start
        let count = small.count
        if !isRoot {
            // Gather the node's gradients once, so that every feature's pass reads them in order.
            for k in 0..<count {
                let row = Int(workspace.rows[start + k])
                workspace.orderedGradients[k] = workspace.gradients[row]
                workspace.orderedHessians[k] = workspace.hessians[row]
            }
        }
        var smallSplits = [SplitCandidate](repeating: SplitCandidate(), count: featureCount)
        var largeSplits = [SplitCandidate](repeating: SplitCandidate(), count: featureCount)
        smallSplits.withUnsafeMutableBufferPointer { smallSplits in
            largeSplits.withUnsafeMutableBufferPointer { largeSplits in
                binned.bins.withUnsafeBufferPointer { bins in
                    let pass = HistogramPass(
                        bins: bins, rows: isRoot ? nil : UnsafeBufferPointer(rebasing: workspace.rows[start..<start + count]), count: count,
                        gradients: UnsafeBufferPointer(isRoot ? workspace.gradients : workspace.orderedGradients),
                        hessians: UnsafeBufferPointer(isRoot ? workspace.hessians : workspace.orderedHessians),
                        parent: parent, small: small.histogram!, large: large?.histogram,
                        smallNode: smallWantsSplit ? (small.gradient, small.hessian, count) : nil,
                        largeNode: largeWantsSplit ? large.map { ($0.gradient, $0.hessian, $0.count) } : nil,
                        smallSplits: smallSplits, largeSplits: largeSplits
                    )
                    // Below this many row visits a thread hand-off costs more than it saves.
                    if threadCount > 1 && count * featureCount >= 16_384 {
                        DispatchQueue.concurrentPerform(iterations: featureCount) { scan(feature: $0, pass: pass) }
                    } else {
                        for feature in 0..<featureCount { scan(feature: feature, pass: pass) }
                    }
                }
            }
        }
        // The best over the features, ties to the lower feature: the same for any thread count.
        if smallWantsSplit {
            for candidate in smallSplits where candidate.gain > small.split.gain { small.split = candidate }
        }
        if largeWantsSplit, large != nil {
            for candidate in largeSplits where candidate.gain > large!.split.gain { large!.split = candidate }
        }
    }

    /// One feature of a histogram pass: fills the small node's histogram, subtracts it from
    /// the parent's for the large node's, and finds each node's best split on this feature.
    private func scan(feature: Int, pass: HistogramPass) {
        let binCount = binned.edges[feature].count + 1
        let offset = feature * BoostingWorkspace.binStride
        let histogram = pass.small.baseAddress! + offset
        Self.fill(histogram, binCount: binCount, column: pass.bins.baseAddress! + feature * binned.rowCount, rows: pass.rows,
                  count: pass.count, gradients: pass.gradients.baseAddress!, hessians: pass.hessians.baseAddress!)
        if let node = pass.smallNode {
            pass.smallSplits[feature] = bestSplit(histogram, binCount: binCount, feature: feature,
                                                  gradient: node.gradient, hessian: node.hessian, count: node.count)
        }
        guard let parent = pass.parent, let large = pass.large else { return }
        let larger = large.baseAddress! + offset
        let parentBins = parent.baseAddress! + offset
        for bin in 0..<binCount {
            larger[bin] = GradientBin(
                gradient: parentBins[bin].gradient - histogram[bin].gradient,
                hessian: parentBins[bin].hessian - histogram[bin].hessian,
                count: parentBins[bin].count - histogram[bin].count)
        }
        if let node = pass.largeNode {
            pass.largeSplits[feature] = bestSplit(larger, binCount: binCount, feature: feature,
                                                  gradient: node.gradient, hessian: node.hessian, count: node.count)
        }
    }

    /// Sums the gradients and hessians of `count` rows into `histogram`'s `binCount` bins:
    /// rows `0..<count` when `rows` is nil, else `rows[k]`, whose gradients are at `k`.
    @inline(__always)
    private static func fill(
        _ histogram: UnsafeMutablePointer<GradientBin>, binCount: Int, column: UnsafePointer<UInt8>,
        rows: UnsafeBufferPointer<UInt32>?, count: Int, gradients: UnsafePointer<Float>, hessians: UnsafePointer<Float>
    ) {
        histogram.update(repeating: GradientBin(), count: binCount)
        if let rows {
            let rows = rows.baseAddress!
            for k in 0..<count {
                let bin = Int(column[Int(rows[k])])
                histogram[bin].gradient += Double(gradients[k])
                histogram[bin].hessian += Double(hessians[k])
                histogram[bin].count &+= 1
            }
        } else {
            for k in 0..<count {
                let bin = Int(column[k])
                histogram[bin].gradient += Double(gradients[k])
                histogram[bin].hessian += Double(hessians[k])
                histogram[bin].count &+= 1
            }
        }
    }

    /// The best split of one feature of a node ("bin ≤ b goes left"), or gain 0 if none is allowed.
    private func bestSplit(
        _ histogram: UnsafeMutablePointer<GradientBin>, binCount: Int, feature: Int,
        gradient: Double, hessian: Double, count: Int
    ) -> SplitCandidate {
        let l2 = parameters.l2Regularization
        let minLeaf = parameters.minSamplesLeaf
        let minHessian = BoostedParameters.minHessianToSplit
        let parentScore = gradient * gradient / (hessian + l2)
        var best = SplitCandidate()
        var leftGradient = 0.0
        var leftHessian = 0.0
        var leftCount = 0
        for bin in 0..<(binCount - 1) {
            leftGradient += histogram[bin].gradient
            leftHessian += histogram[bin].hessian
            leftCount += histogram[bin].count
            if leftCount < minLeaf { continue }
            if count - leftCount < minLeaf { break }
            if leftHessian < minHessian { continue }
            let rightHessian = hessian - leftHessian
            if rightHessian < minHessian { break }
            let rightGradient = gradient - leftGradient
            let gain = leftGradient * leftGradient / (leftHessian + l2)
                + rightGradient * rightGradient / (rightHessian + l2) - parentScore
            if gain > best.gain {
                best = SplitCandidate(gain: gain, feature: feature, bin: bin, leftGradient: leftGradient,
                                      leftHessian: leftHessian, leftCount: leftCount)
            }
        }
        return best
    }

    /// Partitions `node`'s rows stably by its split: left rows first. Returns where the right
    /// rows start. A large node is cut into one chunk per thread, each partitioned on its own,
    /// then the chunks' left rows and right rows are put together in chunk order: a stable
    /// partition, the same whatever the thread count.
    func partition(_ node: GrowingNode, workspace: BoostingWorkspace) -> Int {
        let chunkCount = threadCount > 1 && node.count >= 65_536 ? threadCount : 1
        let chunkSize = (node.count + chunkCount - 1) / chunkCount
        var leftCounts = [Int](repeating: 0, count: chunkCount)
        let threshold = UInt8(truncatingIfNeeded: node.split.bin)
        let (nodeStart, nodeEnd) = (node.start, node.end)
        binned.bins.withUnsafeBufferPointer { bins in
            leftCounts.withUnsafeMutableBufferPointer { leftCounts in
                let pass = PartitionPass(column: bins.baseAddress! + node.split.feature * binned.rowCount,
                                         rows: workspace.rows, scratch: workspace.scratch, leftCounts: leftCounts)
                let work: @Sendable (Int) -> Void = { chunk in
                    let start = min(nodeEnd, nodeStart + chunk * chunkSize)
                    pass.leftCounts[chunk] = Self.partition(start..<min(nodeEnd, start + chunkSize), threshold: threshold, pass: pass)
                }
                if chunkCount > 1 {
                    DispatchQueue.concurrentPerform(iterations: chunkCount, execute: work)
                } else {
                    work(0)
                }
            }
        }
        // Each chunk's left rows lie at its start in `rows`, its right rows at its start in `scratch`.
        let rows = workspace.rows
        var leftEnd = node.start + leftCounts[0]
        for chunk in 1..<chunkCount {
            let start = min(node.end, node.start + chunk * chunkSize)
            for k in 0..<leftCounts[chunk] { rows[leftEnd + k] = rows[start + k] } // leftEnd ≤ start
            leftEnd += leftCounts[chunk]
        }
        var end = leftEnd
        for chunk in 0..<chunkCount {
            let start = min(node.end, node.start + chunk * chunkSize)
            let rightCount = min(node.end, start + chunkSize) - start - leftCounts[chunk]
            for k in 0..<rightCount { rows[end + k] = workspace.scratch[start + k] }
            end += rightCount
        }
        return leftEnd
    }

    /// Partitions `rows[range]` in place stably: its left rows to the start of `range`, its
    /// right rows to `scratch[range]`'s start. Returns the number of left rows.
    private static func partition(_ range: Range<Int>, threshold: UInt8, pass: PartitionPass) -> Int {
        let rows = pass.rows
        let scratch = pass.scratch
        var leftEnd = range.lowerBound
        var rightEnd = range.lowerBound
        // Branch-free: a row is written to both sides and only one cursor moves. Which side a
        // row goes is a coin flip to the CPU, and a mispredicted branch per row cost more
        // than the writes. `leftEnd ≤ k`, so the stray write lands on a row already read.
        for k in range {
            let row = rows[k]
            let goesLeft = pass.column[Int(row)] <= threshold ? 1 : 0
            rows[leftEnd] = row
            scratch[rightEnd] = row
            leftEnd += goesLeft
            rightEnd += 1 - goesLeft
        }
        return leftEnd - range.lowerBound
    }
}

/// The buffers of one partition; concurrent chunks touch disjoint ranges of them.
private struct PartitionPass: @unchecked Sendable {
    let column: UnsafePointer<UInt8>
    let rows: UnsafeMutableBufferPointer<UInt32>
    let scratch: UnsafeMutableBufferPointer<UInt32>
    let leftCounts: UnsafeMutableBufferPointer<Int>
}

/// The buffers and nodes of one histogram pass; concurrent iterations (one feature each)
/// write disjoint feature slices of the histograms and their own split slot.
private struct HistogramPass: @unchecked Sendable {
    let bins: UnsafeBufferPointer<UInt8>
    /// The small node's rows, or nil for the root (every row, in order).
    let rows: UnsafeBufferPointer<UInt32>?
    /// The small node's row count.
    let count: Int
    /// The small node's gradients and hessians, in its row order.
    let gradients: UnsafeBufferPointer<Float>
    let hessians: UnsafeBufferPointer<Float>
    let parent: UnsafeMutableBufferPointer<GradientBin>?
    let small: UnsafeMutableBufferPointer<GradientBin>
    let large: UnsafeMutableBufferPointer<GradientBin>?
    /// The sums of each node that wants its best split found, else nil.
    let smallNode: (gradient: Double, hessian: Double, count: Int)?
    let largeNode: (gradient: Double, hessian: Double, count: Int)?
    let smallSplits: UnsafeMutableBufferPointer<BoostedTreeGrower.SplitCandidate>
    let largeSplits: UnsafeMutableBufferPointer<BoostedTreeGrower.SplitCandidate>
}
