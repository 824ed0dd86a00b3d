import Posix

/// `[metrics]`: where the root serves Prometheus metrics.
extension PolicyDecoder {
    func decodeMetrics() throws(PolicyError) -> MetricsSettings {
        var settings = MetricsSettings()
        guard let table = try root.subtable("metrics") else { return settings }
        try table.checkKeys(PolicySchema.metrics)
        if let value = table.table["allow_non_loopback"] {
            guard let flag = value.bool else {
                throw table.error("allow_non_loopback", "expected true or false")
            }
            settings.allowsNonLoopback = flag
        }
        if let value = table.table["actions"] {
            guard let flag = value.bool else { throw table.error("actions", "expected true or false") }
            settings.allowsActions = flag
        }
        guard let text = try table.string("listen", expected: "a string \"HOST:PORT\" (or \"\" for off)") else {
            return settings
        }
        if text.isEmpty {
            settings.listen = .off
            return settings
        }
        let address: MetricsAddress
        do throws(MetricsAddress.Problem) { address = try MetricsAddress(parsing: text) } catch {
            throw table.error("listen", "\(error.description) in \(text.quotedForMessage); expected \"HOST:PORT\" "
                + "with an IPv4 address and a port from 0 to 65535 (\"127.0.0.1:9464\"), or \"\" for no metrics")
        }
        guard address.isLoopback || settings.allowsNonLoopback else {
            throw table.error("listen", "\(text.quotedForMessage) is not a loopback address (127.0.0.0/8); metrics "
                + "are served beyond this machine only with allow_non_loopback = true in [metrics]")
        }
        settings.listen = .address(host: address.host, port: address.port)
        return settings
    }
}

/// An IPv4 `HOST:PORT` as `[metrics] listen` takes it: Posix's one parser of listen addresses.
public typealias MetricsAddress = IPv4Endpoint
