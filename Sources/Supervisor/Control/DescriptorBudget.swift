/// The root's descriptors, reserved at start so that no number of control clients can keep a
/// worker from being respawned (`Too many open files`): what the tree may need at once is set
/// aside first, and the control connections get what is left, up to `control.max_connections`.
///
/// Pure arithmetic on the counts the caller measured; the runtime applies the plan.
struct DescriptorBudget: Equatable {
    /// Descriptors a worker may hold in the root at once: its control channel and its two output
    /// pipes, and as many again for its previous incarnation, whose pipes may not be drained yet.
    static let perWorker = 6
    /// The child's ends of one spawn (control channel, stdout, stderr), closed once it has started.
    static let perSpawn = 3
    /// Log rotation, the systemd socket, the accept of a client refused past the cap, the
    /// descriptors libraries open of their own.
    static let slack = 16

    /// What the tree may need beyond the descriptors already open.
    let reserve: Int
    /// Descriptors open at start (data channels, the control socket, logs, locks…) plus `reserve`.
    let base: Int

    /// - Parameters:
    ///   - open: descriptors open once everything but the workers is set up.
    ///   - workers: the workers of the tree.
    init(open: Int, workers: Int) {
        reserve = workers * Self.perWorker + Self.perSpawn + Self.slack
        base = open + reserve
    }

    /// What the runtime does about the limit.
    enum Plan: Equatable {
        /// Serve up to `connections` clients, after raising the soft limit to `raiseSoftLimitTo` if set.
        case serve(connections: Int, raiseSoftLimitTo: UInt64?)
        /// Not even the reserve and one client fit under the hard limit: refuse to start.
        case tooLow(hardLimit: UInt64, needed: Int)
    }

    /// The plan for `maxConnections` clients under a `soft`/`hard` limit: the soft limit is raised
    /// only as far as needed; when the hard limit cannot hold every client, fewer are served.
    func plan(maxConnections: Int, soft: UInt64, hard: UInt64) -> Plan {
        let wanted = UInt64(base + maxConnections)
        if wanted <= soft { return .serve(connections: maxConnections, raiseSoftLimitTo: nil) }
        if wanted <= hard { return .serve(connections: maxConnections, raiseSoftLimitTo: wanted) }
        guard hard > UInt64(base) else { return .tooLow(hardLimit: hard, needed: base + 1) }
        return .serve(connections: Int(hard - UInt64(base)), raiseSoftLimitTo: hard > soft ? hard : nil)
    }
}
