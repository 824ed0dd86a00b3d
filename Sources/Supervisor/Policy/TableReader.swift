import TOMLKit

/// The file being decoded: turns a complaint about a key path into a located `PolicyError`.
struct PolicySource {
    let file: String
    let locator: SourceLocator

    func error(at path: [String], _ message: String) -> PolicyError {
        PolicyError(file: file, line: locator.line(of: path),
                    keyPath: path.isEmpty ? nil : path.joined(separator: "."), message: message)
    }

    func line(of path: [String]) -> Int? { locator.line(of: path) }
}

/// Typed, checked access to one TOML table of the policy; every mismatch is a `PolicyError`
/// naming the key, what was expected and what was found.
struct TableReader {
    let table: TOMLTable
    /// Where the table sits, e.g. `["workers", "extractor"]`.
    let path: [String]
    let source: PolicySource

    func path(_ key: String) -> [String] { path + [key] }

    func error(_ key: String, _ message: String) -> PolicyError {
        source.error(at: path(key), message)
    }

    func contains(_ key: String) -> Bool { table[key] != nil }

    /// The keys of the table in file order (TOMLKit returns them sorted by name).
    var keysInFileOrder: [String] {
        table.keys.sorted { a, b in
            let lineA = source.line(of: path(a)) ?? .max, lineB = source.line(of: path(b)) ?? .max
            return lineA != lineB ? lineA < lineB : a < b
        }
    }

    /// - Throws: `PolicyError` for the first key, in file order, that is not in `allowed`.
    func checkKeys(_ allowed: [String]) throws(PolicyError) {
        for key in keysInFileOrder where !allowed.contains(key) {
            throw error(key, "unknown key \(key.quotedForMessage); allowed keys: \(allowed.joined(separator: ", "))")
        }
    }

    /// - Throws: `PolicyError` if the key is present but is not a string.
    func string(_ key: String, expected: String = "a string") throws(PolicyError) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw mismatch(key, expected, value) }
        return string
    }

    /// - Throws: `PolicyError` if the key is present but is not an integer.
    func integer(_ key: String, expected: String = "an integer") throws(PolicyError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let integer = value.int else { throw mismatch(key, expected, value) }
        return integer
    }

    /// An integer or a float, which must be finite.
    /// - Throws: `PolicyError` if the key is present but is not a finite number.
    func number(_ key: String) throws(PolicyError) -> Double? {
        guard let value = table[key] else { return nil }
        if let integer = value.int { return Double(integer) }
        guard let double = value.double, double.isFinite else { throw mismatch(key, "a finite number", value) }
        return double
    }

    /// - Throws: `PolicyError` if the key is present but is not an array of strings.
    func strings(_ key: String, expected: String = "an array of strings") throws(PolicyError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw mismatch(key, expected, value) }
        var strings: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                throw error(key, "expected \(expected), got \(Self.describe(element)) at index \(index)")
            }
            strings.append(string)
        }
        return strings
    }

    /// - Throws: `PolicyError` if the key is present but is not a table.
    func subtable(_ key: String) throws(PolicyError) -> TableReader? {
        guard let value = table[key] else { return nil }
        guard let table = value.table else { throw mismatch(key, "a table", value) }
        return TableReader(table: table, path: path(key), source: source)
    }

    /// - Throws: `PolicyError` if the key is present but is not a table of strings.
    func stringTable(_ key: String) throws(PolicyError) -> [String: String]? {
        guard let reader = try subtable(key) else { return nil }
        var result: [String: String] = [:]
        for name in reader.keysInFileOrder {
            result[name] = try reader.string(name)
        }
        return result
    }

    func mismatch(_ key: String, _ expected: String, _ value: TOMLValueConvertible) -> PolicyError {
        error(key, "expected \(expected), got \(Self.describe(value))")
    }

    /// A short phrase for a value found in the file: `string "three"`, `integer -5`, `a table`.
    static func describe(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "string \((value.string ?? "").quotedForMessage)"
        case .int: return "integer \(value.int.map(String.init) ?? "?")"
        case .double: return "float \(value.double.map { String($0) } ?? "?")"
        case .bool: return "boolean \(value.bool.map { String($0) } ?? "?")"
        case .array: return "an array"
        case .table: return "a table"
        case .date: return "a date"
        case .time: return "a time"
        case .dateTime: return "a date-time"
        }
    }
}
