#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TOMLKit

/// Reads policy files (see `policies/README.md` for the schema) into a validated `Policy`.
///
/// Every problem — unreadable file, TOML syntax, unknown key, wrong type, impossible value,
/// undefined or unreachable child, duplicate name, cycle — is one `PolicyError` naming the file,
/// the line when known and the key path. Nothing is built unless the whole file is valid.
public enum PolicyLoader {
    /// Reads and validates a policy file.
    /// - Parameters:
    ///   - path: the policy file; errors name it as given.
    ///   - executable: the absolute path of the program every worker runs (`ChildSpec.executable`;
    ///     how it is launched with its role is the runtime's `commandLine`).
    ///   - roles: the valid roles, each with the keys of its table (`RoleSchema`).
    /// - Throws: `PolicyError`, e.g. `cannot read: No such file or directory`.
    public static func load(path: String, executable: String, roles: [String: RoleSchema]) throws(PolicyError) -> Policy {
        let text = try readText(path: path)
        return try parse(text: text, file: path, executable: executable, roles: roles)
    }

    /// `load(path:executable:roles:)` for roles that take `args` only.
    public static func load(path: String, executable: String, knownRoles: Set<String>) throws(PolicyError) -> Policy {
        try load(path: path, executable: executable, roles: argumentsOnly(knownRoles))
    }

    /// `parse(text:file:executable:roles:)` for roles that take `args` only.
    public static func parse(text: String, file: String, executable: String,
                             knownRoles: Set<String>) throws(PolicyError) -> Policy {
        try parse(text: text, file: file, executable: executable, roles: argumentsOnly(knownRoles))
    }

    private static func argumentsOnly(_ roles: Set<String>) -> [String: RoleSchema] {
        Dictionary(uniqueKeysWithValues: roles.map { ($0, RoleSchema.argumentsOnly) })
    }

    /// Validates the text of a policy file.
    /// - Parameters:
    ///   - text: the TOML document.
    ///   - file: the name errors give the document.
    ///   - executable: the absolute path of the program every worker runs (see `load(path:executable:roles:)`).
    ///   - roles: the valid roles, each with the keys of its table.
    /// - Throws: `PolicyError` for the first problem found.
    public static func parse(text: String, file: String, executable: String,
                             roles: [String: RoleSchema]) throws(PolicyError) -> Policy {
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].count { $0 == UInt8(ascii: "\n") } + 1
            throw PolicyError(file: file, line: line, message: "invalid TOML: NUL character in the text")
        }
        // Before the TOML parser, which recurses once per level of a key and would overflow its
        // stack (SIGSEGV, no message) on a key thousands of levels deep.
        let locator = SourceLocator(text: text)
        let deepest = locator.deepestPath
        if deepest.depth > PolicySchema.maximumKeyDepth {
            let shown = deepest.start.prefix(PolicySchema.maximumKeyDepth + 1).joined(separator: ".")
            throw PolicyError(file: file, line: deepest.line, message: "a key nested \(deepest.depth) levels deep"
                + (shown.isEmpty ? "" : " (\(shown.quotedForMessage)…)") + "; a policy's keys nest at most "
                + "\(PolicySchema.maximumKeyDepth) levels (workers.NAME.backoff.initial_ms has 4)")
        }
        let document: TOMLTable
        do {
            document = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PolicyError(file: file, line: error.source.begin.line,
                              message: "invalid TOML: \(error.description) (column \(error.source.begin.column))")
        } catch {
            throw PolicyError(file: file, message: "invalid TOML: \(error)")
        }
        // TOMLKit never frees a parsed document; clearing it releases everything but the root.
        defer { document.clear() }
        let source = PolicySource(file: file, locator: locator)
        let decoder = PolicyDecoder(root: TableReader(table: document, path: [], source: source),
                                    executable: executable, roles: roles)
        return try decoder.decode()
    }

    /// The whole file as UTF-8 text. C: `fopen`, `fread`.
    private static func readText(path: String) throws(PolicyError) -> String {
        func failure(_ reason: String) -> PolicyError { PolicyError(file: path, message: "cannot read: \(reason)") }
        func systemReason() -> String { String(cString: strerror(errno)) }
        guard let stream = fopen(path, "rb") else { throw failure(systemReason()) }
        defer { fclose(stream) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, stream) }
            bytes.append(contentsOf: chunk[..<count])
            if count < chunk.count {
                // A directory opens fine on Linux; reading it fails with EISDIR.
                if ferror(stream) != 0 { throw failure(systemReason()) }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("not valid UTF-8 text")
        }
        return text
    }
}
