/// `[control]`: the control socket's limits.
extension PolicyDecoder {
    func decodeControl() throws(PolicyError) -> ControlSettings {
        var settings = ControlSettings()
        guard let table = try root.subtable("control") else { return settings }
        try table.checkKeys(PolicySchema.control)
        if let count = try table.integer("max_connections", expected: "an integer number of clients") {
            let range = PolicySchema.maxConnectionsRange
            guard range.contains(count) else {
                throw table.error("max_connections", "expected a number of clients from \(range.lowerBound) to "
                    + "\(range.upperBound), got \(count)")
            }
            settings.maxConnections = count
        }
        if let milliseconds = try table.integer("idle_timeout_ms", expected: "an integer number of milliseconds") {
            let range = PolicySchema.idleTimeoutRange
            guard range.contains(milliseconds) else {
                throw table.error("idle_timeout_ms", "expected milliseconds from \(range.lowerBound) to "
                    + "\(range.upperBound), got \(milliseconds)")
            }
            settings.idleTimeout = .milliseconds(milliseconds)
        }
        return settings
    }
}
