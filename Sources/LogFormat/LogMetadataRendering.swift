import Logging

/// How every CIDP log handler — the root's and the workers' — merges swift-log metadata and
/// flattens it to strings, so that a worker's entry reads the same once the root re-logs it.
public enum LogMetadataRendering {
    /// swift-log's order: the handler's metadata, then its provider's, then the call's, later keys
    /// winning; an attached error adds `error.message` and `error.type` (as `StreamLogHandler` does).
    public static func merged(base: Logger.Metadata, provider: Logger.MetadataProvider?, explicit: Logger.Metadata?,
                       error: (any Error)?) -> Logger.Metadata {
        var metadata = base
        if let provided = provider?.get(), !provided.isEmpty {
            metadata.merge(provided) { _, provided in provided }
        }
        if let explicit, !explicit.isEmpty {
            metadata.merge(explicit) { _, explicit in explicit }
        }
        if let error {
            metadata["error.message"] = "\(error)"
            metadata["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return metadata
    }

    /// Flat string metadata, deterministic whatever the dictionaries' order.
    ///
    /// A nested dictionary becomes dotted keys (`["http": ["status": "200"]]` → `http.status=200`),
    /// never overwriting a key given flat; an empty one renders as `[:]`. Arrays render as
    /// `[a, b]`, dictionaries inside them as `[k: v, …]` with sorted keys.
    public static func flattened(_ metadata: Logger.Metadata) -> [String: String] {
        var flat: [String: String] = [:]
        var nested: [(String, Logger.Metadata)] = []
        for (key, value) in metadata {
            if case .dictionary(let dictionary) = value, !dictionary.isEmpty {
                nested.append((key, dictionary))
            } else {
                flat[key] = rendered(value)
            }
        }
        for (key, dictionary) in nested.sorted(by: { $0.0 < $1.0 }) {
            for (subkey, value) in flattened(dictionary) where flat[key + "." + subkey] == nil {
                flat[key + "." + subkey] = value
            }
        }
        return flat
    }

    /// One value as a string; nested containers render inline with sorted keys.
    public static func rendered(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return "[" + values.map(rendered).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            if dictionary.isEmpty { return "[:]" }
            return "[" + dictionary.keys.sorted().map { "\($0): \(rendered(dictionary[$0]!))" }.joined(separator: ", ") + "]"
        }
    }
}
