import TOMLKit

/// Turns a parsed TOML document into a `Policy`, checking every key on the way.
///
/// Checks run in a fixed order (top-level keys, `[supervisor]`, `[logging]`, `[defaults]`, nodes
/// and workers in file order, then the shape of the tree), so a file with several problems
/// always reports the same, earliest one. Nothing is built until everything has been checked.
struct PolicyDecoder {
    let root: TableReader
    let executable: String
    /// The roles a worker may have, each with its keys.
    let roles: [String: RoleSchema]

    var source: PolicySource { root.source }

    func decode() throws(PolicyError) -> Policy {
        try root.checkKeys(PolicySchema.topLevel)
        guard let supervisor = try root.subtable("supervisor") else {
            throw source.error(at: ["supervisor"], "missing required table [supervisor] (the root node)")
        }
        let rootNode = try decodeNode(supervisor, name: nil)
        let logging = try decodeLogging()
        let control = try decodeControl()
        let metrics = try decodeMetrics()
        let defaults = try decodeDefaults()
        let nodes = try decodeDefinitions(of: "nodes") { (table, name) throws(PolicyError) in
            try decodeNode(table, name: name)
        }
        let workers = try decodeDefinitions(of: "workers") { (table, name) throws(PolicyError) in
            try decodeWorker(table, name: name, defaults: defaults)
        }
        try checkSize(nodes: nodes, workers: workers)
        let tree = try assembleTree(root: rootNode, nodes: nodes, workers: workers)
        return Policy(root: tree, logging: logging, control: control, metrics: metrics, file: source.file,
                      settingOrigins: Dictionary(workers.map { ($0.name, $0.origins) }) { first, _ in first })
    }

    // MARK: Nodes

    /// Decodes `[supervisor]` (when `name` is nil) or `[nodes.<name>]`.
    func decodeNode(_ table: TableReader, name: String?) throws(PolicyError) -> NodeDefinition {
        try table.checkKeys(name == nil ? PolicySchema.supervisor : PolicySchema.node)
        var nodeName = name ?? PolicySchema.defaultRootName
        if name == nil, let given = try table.string("name") {
            guard PolicySchema.isValidName(given) else {
                throw table.error("name", "invalid name \(given.quotedForMessage): \(PolicySchema.nameRule)")
            }
            nodeName = given
        }
        var strategy = Strategy.oneForOne
        if let text = try table.string("strategy") {
            guard let parsed = Strategy(rawValue: text) else {
                let allowed = Strategy.allCases.map(\.rawValue).joined(separator: ", ")
                throw table.error("strategy", "unknown strategy \(text.quotedForMessage); expected one of: \(allowed)")
            }
            strategy = parsed
        }
        let intensity = try table.integer("intensity") ?? 3
        guard intensity >= 0 else {
            throw table.error("intensity", "expected a number of restarts >= 0, got \(intensity)")
        }
        let period = try table.integer("period_ms", expected: "an integer number of milliseconds") ?? 5000
        if intensity == 0 && period == 0 {
            throw table.error("period_ms", "intensity = 0 with period_ms = 0 is not a restart window: "
                + "period_ms must be > 0 (intensity = 0 already gives up at the first restart)")
        }
        guard period > 0 else {
            throw table.error("period_ms", "expected a period in milliseconds > 0, got \(period)")
        }
        var onIntensityExceeded = IntensityExceeded.giveUp
        if let text = try table.string("intensity_exceeded") {
            guard let parsed = IntensityExceeded(rawValue: text) else {
                let allowed = IntensityExceeded.allCases.map(\.rawValue).joined(separator: " or ")
                throw table.error("intensity_exceeded", "expected \(allowed), got \(text.quotedForMessage)")
            }
            onIntensityExceeded = parsed
        }
        guard let children = try table.strings("children", expected: "an array of child names") else {
            throw table.error("children", "missing required key: a non-empty array of child names, in start order")
        }
        guard !children.isEmpty else {
            throw table.error("children", "expected a non-empty array of child names, got []")
        }
        var seen: Set<String> = []
        for child in children where !seen.insert(child).inserted {
            throw table.error("children", "\(child.quotedForMessage) is listed twice")
        }
        return NodeDefinition(name: nodeName, path: table.path, strategy: strategy, intensity: intensity,
                              periodMilliseconds: period, onIntensityExceeded: onIntensityExceeded, children: children)
    }

    // MARK: Logging

    func decodeLogging() throws(PolicyError) -> LogSettings {
        var settings = LogSettings()
        guard let table = try root.subtable("logging") else { return settings }
        try table.checkKeys(PolicySchema.logging)
        if let directory = try table.string("dir", expected: "a directory path") {
            guard !directory.isEmpty, !directory.utf8.contains(0) else {
                throw table.error("dir", "expected a non-empty directory path, got \(directory.quotedForMessage)")
            }
            settings.directory = directory
        }
        if let maxBytes = try table.integer("max_bytes", expected: "an integer number of bytes") {
            guard maxBytes >= 4096 else {
                throw table.error("max_bytes", "expected a size in bytes >= 4096, got \(maxBytes)")
            }
            settings.maxBytes = maxBytes
        }
        if let keep = try table.integer("keep") {
            guard keep >= 1 else {
                throw table.error("keep", "expected a number of rotated files >= 1, got \(keep)")
            }
            settings.keep = keep
        }
        if let level = try table.string("console_level") {
            guard PolicySchema.consoleLevels.contains(level) else {
                throw table.error("console_level", "unknown console level \(level.quotedForMessage); "
                    + "expected one of: \(PolicySchema.consoleLevels.joined(separator: ", "))")
            }
            settings.consoleLevel = level
        }
        if let level = try table.string("file_level") {
            guard PolicySchema.consoleLevels.contains(level) else {
                throw table.error("file_level", "unknown file level \(level.quotedForMessage); "
                    + "expected one of: \(PolicySchema.consoleLevels.joined(separator: ", "))")
            }
            settings.fileLevel = level
        }
        return settings
    }

    // MARK: Named tables

    /// Decodes each `[<kind>.<name>]` table in file order, after checking the name.
    func decodeDefinitions<Definition>(
        of kind: String, _ decode: (TableReader, String) throws(PolicyError) -> Definition
    ) throws(PolicyError) -> [Definition] {
        guard let group = try root.subtable(kind) else { return [] }
        var definitions: [Definition] = []
        for name in group.keysInFileOrder {
            guard PolicySchema.isValidName(name) else {
                throw group.error(name, "invalid name \(name.quotedForMessage): \(PolicySchema.nameRule)")
            }
            guard let table = try group.subtable(name) else { continue }
            definitions.append(try decode(table, name))
        }
        return definitions
    }
}
