import TOMLKit

/// A role's own keys in `[workers.NAME]` (`RoleSchema`), read into the role's arguments.
extension PolicyDecoder {
    /// The role's keys of `table`, in the schema's order, as arguments, each with where it came from.
    func decodeRoleKeys(_ table: TableReader, schema: RoleSchema) throws(PolicyError) -> [SettingOrigin] {
        try checkNestedKeys(table, schema: schema)
        var origins: [SettingOrigin] = []
        for key in schema.keys {
            let name = key.path.last!
            guard let owner = try nested(Array(key.path.dropLast()), in: table), owner.contains(name) else { continue }
            for (path, arguments) in try render(key, name: name, in: owner) {
                origins.append(SettingOrigin(arguments: arguments, keyPath: path.joined(separator: "."),
                                             line: source.line(of: path)))
            }
        }
        return origins
    }

    /// The keys a role's schema allows in each table nested in the worker's (`source` holds
    /// `fields`, `timestamp_format`, …); a key of no schema entry is refused with the allowed ones.
    private func checkNestedKeys(_ table: TableReader, schema: RoleSchema) throws(PolicyError) {
        var prefixes: [[String]: [String]] = [:]
        for key in schema.keys where key.path.count > 1 {
            for depth in 1..<key.path.count {
                let prefix = Array(key.path.prefix(depth))
                if !(prefixes[prefix] ?? []).contains(key.path[depth]) { prefixes[prefix, default: []].append(key.path[depth]) }
            }
        }
        for (prefix, allowed) in prefixes.sorted(by: { $0.key.count < $1.key.count }) {
            guard let inner = try nested(prefix, in: table) else { continue }
            try inner.checkKeys(allowed)
        }
    }

    /// The table at `path` inside `table`, or nil where one on the way is absent.
    private func nested(_ path: [String], in table: TableReader) throws(PolicyError) -> TableReader? {
        var owner = table
        for component in path {
            guard let next = try owner.subtable(component) else { return nil }
            owner = next
        }
        return owner
    }

    /// One key's value as arguments: one entry for a scalar, one per key of a table.
    private func render(_ key: RoleSchema.Key, name: String, in owner: TableReader) throws(PolicyError) -> [([String], [String])] {
        let path = owner.path(name)
        switch key.shape {
        case .integer:
            guard let value = try owner.integer(name) else { return [] }
            return [(path, [key.option, String(value)])]
        case .number:
            guard let value = owner.table[name] else { return [] }
            guard let text = Self.numberText(value) else { throw owner.mismatch(name, "a finite number", value) }
            return [(path, [key.option, text])]
        case .string:
            guard let value = try owner.string(name) else { return [] }
            try Self.checkText(value, at: path, source: source)
            return [(path, [key.option, value])]
        case .stringPairs:
            guard let pairs = try owner.subtable(name) else { return [] }
            var rendered: [([String], [String])] = []
            for field in pairs.keysInFileOrder {
                guard let value = try pairs.string(field) else { continue }
                try Self.checkText(field + value, at: pairs.path(field), source: source)
                rendered.append((pairs.path(field), [key.option, "\(field)=\(value)"]))
            }
            return rendered
        case .numberRanges:
            guard let ranges = try owner.subtable(name) else { return [] }
            var rendered: [([String], [String])] = []
            for reading in ranges.keysInFileOrder {
                let value = ranges.table[reading]!
                guard let bounds = value.array, bounds.count == 2,
                      let low = Self.numberText(bounds[0]), let high = Self.numberText(bounds[1]) else {
                    throw ranges.mismatch(reading, "an array of two numbers [MIN, MAX]", value)
                }
                rendered.append((ranges.path(reading), [key.option, "\(reading)=\(low):\(high)"]))
            }
            return rendered
        case .scalarTables:
            guard let groups = try owner.subtable(name) else { return [] }
            var rendered: [([String], [String])] = []
            for group in groups.keysInFileOrder {
                guard let settings = try groups.subtable(group) else { continue }
                for setting in settings.keysInFileOrder {
                    let value = settings.table[setting]!
                    guard let text = Self.scalarText(value) else {
                        throw settings.mismatch(setting, "a string, a number or true/false", value)
                    }
                    try Self.checkText(text, at: settings.path(setting), source: source)
                    rendered.append((settings.path(setting), [key.option, "\(group).\(setting)=\(text)"]))
                }
            }
            return rendered
        }
    }

    /// An integer as written, a finite float in Swift's shortest round-tripping form.
    static func numberText(_ value: TOMLValueConvertible) -> String? {
        if let integer = value.int { return String(integer) }
        guard let double = value.double, double.isFinite else { return nil }
        return String(double)
    }

    /// A string, a number or a boolean as the role reads it.
    static func scalarText(_ value: TOMLValueConvertible) -> String? {
        if let string = value.string { return string }
        if let bool = value.bool { return String(bool) }
        return numberText(value)
    }

    private static func checkText(_ text: String, at path: [String], source: PolicySource) throws(PolicyError) {
        guard !text.utf8.contains(0) else { throw source.error(at: path, "expected text without NUL characters") }
    }

    /// `args` of a role that takes keys instead: refused, naming the key the first option is.
    func refuseArguments(_ arguments: [String], of role: String, schema: RoleSchema, in table: TableReader) -> PolicyError {
        var hint = ""
        if let option = arguments.first, let key = schema.key(option: option) {
            let value = arguments.count > 1 ? arguments[1] : "…"
            hint = "; \(option) \(value) is " + Self.example(key, value: value, worker: table.path)
        }
        return table.error("args", "role \(role.quotedForMessage) takes its settings as keys of its table, not args\(hint) "
            + "(policies/README.md, \"Roles and their settings\")")
    }

    /// How one argument is written as a key, for the refusal's hint.
    private static func example(_ key: RoleSchema.Key, value: String, worker: [String]) -> String {
        let table = (worker + key.path.dropLast()).joined(separator: ".")
        let name = key.path.last!
        let split = value.split(separator: "=", maxSplits: 1).map(String.init)
        switch key.shape {
        case .integer, .number:
            return "[\(table)] \(name) = \(value)"
        case .string:
            return "[\(table)] \(name) = \"\(value)\""
        case .stringPairs where split.count == 2:
            return "[\(table).\(name)] \(split[0]) = \"\(split[1])\""
        case .numberRanges where split.count == 2:
            return "[\(table).\(name)] \(split[0]) = [\(split[1].split(separator: ":").joined(separator: ", "))]"
        case .scalarTables where split.count == 2:
            let parts = split[0].split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return "[\(table).\(name).GROUP] KEY = VALUE" }
            let number = Double(split[1]) != nil || split[1] == "true" || split[1] == "false"
            return "[\(table).\(name).\(parts[0])] \(parts[1]) = " + (number ? split[1] : "\"\(split[1])\"")
        case .stringPairs, .numberRanges, .scalarTables:
            return "a key of [\(table).\(name)]"
        }
    }
}
