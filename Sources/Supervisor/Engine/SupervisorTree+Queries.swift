extension SupervisorTree {
    /// The node above `id`; nil for the root.
    public func parentID(of id: ElementID) -> ElementID? { parent(of: id) }

    /// Whether node `id` has no step under way or pending.
    public func isIdle(_ id: ElementID) -> Bool {
        let node = self.node(id)
        return node.current == nil && node.plan.isEmpty
    }

    /// Whether an orderly shutdown has begun.
    public var isShuttingDownNow: Bool { isShuttingDown }
}
