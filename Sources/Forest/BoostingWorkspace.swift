/// One bin of a gradient histogram: the sums of the gradients and hessians of its rows,
/// and their number.
struct GradientBin: Sendable {
    var gradient = 0.0
    var hessian = 0.0
    var count = 0
}

/// The memory one boosted fit reuses for every tree: row indices, gradients and hessians,
/// and a pool of histograms (`featureCount × 256` bins each), allocated once.
///
/// Only the fitting thread calls its methods; the concurrent iterations of a histogram
/// pass write disjoint feature slices of the buffers it hands out.
final class BoostingWorkspace {
    let rowCount: Int
    let featureCount: Int
    /// The training rows, partitioned in place node by node (a node is a range).
    let rows: UnsafeMutableBufferPointer<UInt32>
    /// Where a partition puts the right rows before copying them back.
    let scratch: UnsafeMutableBufferPointer<UInt32>
    /// Per training row, the gradient and hessian of the loss at the current prediction.
    let gradients: UnsafeMutableBufferPointer<Float>
    let hessians: UnsafeMutableBufferPointer<Float>
    /// The gradients and hessians of one node's rows, in the node's row order.
    let orderedGradients: UnsafeMutableBufferPointer<Float>
    let orderedHessians: UnsafeMutableBufferPointer<Float>
    private var freeHistograms: [UnsafeMutableBufferPointer<GradientBin>] = []
    private var allHistograms: [UnsafeMutableBufferPointer<GradientBin>] = []

    /// Histogram slots per feature (bin indices are bytes).
    static let binStride = 256

    init(rowCount: Int, featureCount: Int) {
        self.rowCount = rowCount
        self.featureCount = featureCount
        rows = .allocate(capacity: rowCount)
        scratch = .allocate(capacity: rowCount)
        gradients = .allocate(capacity: rowCount)
        hessians = .allocate(capacity: rowCount)
        orderedGradients = .allocate(capacity: rowCount)
        orderedHessians = .allocate(capacity: rowCount)
        gradients.initialize(repeating: 0)
        hessians.initialize(repeating: 0)
    }

    deinit {
        for buffer in [rows, scratch] { buffer.deallocate() }
        for buffer in [gradients, hessians, orderedGradients, orderedHessians] { buffer.deallocate() }
        for histogram in allHistograms { histogram.deallocate() }
    }

    /// A histogram for every feature, with unspecified contents.
    func takeHistogram() -> UnsafeMutableBufferPointer<GradientBin> {
        if let histogram = freeHistograms.popLast() { return histogram }
        let histogram = UnsafeMutableBufferPointer<GradientBin>.allocate(capacity: featureCount * Self.binStride)
        histogram.initialize(repeating: GradientBin())
        allHistograms.append(histogram)
        return histogram
    }

    /// Returns `histogram` to the pool.
    func release(_ histogram: UnsafeMutableBufferPointer<GradientBin>?) {
        if let histogram { freeHistograms.append(histogram) }
    }
}
