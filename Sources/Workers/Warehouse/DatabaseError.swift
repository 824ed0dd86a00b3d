import CSQLite

/// A failed SQLite call: the result code, SQLite's message, the SQL involved and the database.
///
/// Bound values are never part of it (they may be large, or private). `description` is one
/// line, for example
/// `SQLite error 1299 (constraint failed): NOT NULL constraint failed: t.x; SQL: INSERT INTO t(x) VALUES (?); database: /tmp/w.sqlite`.
public struct DatabaseError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The extended result code (`SQLITE_CONSTRAINT_NOTNULL` = 1299, …).
    public var resultCode: Int32
    /// SQLite's message (`sqlite3_errmsg`), or the generic text of the code.
    public var message: String
    /// The statement that failed, when there is one.
    public var sql: String?
    /// The database file; empty for an in-memory database.
    public var path: String

    /// An error with every field given.
    public init(resultCode: Int32, message: String, sql: String? = nil, path: String) {
        self.resultCode = resultCode
        self.message = message
        self.sql = sql
        self.path = path
    }

    /// The primary result code (`SQLITE_CONSTRAINT` = 19 for 1299).
    public var primaryCode: Int32 { resultCode & 0xFF }

    /// Whether another connection held a lock past the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`):
    /// the one failure worth retrying as it is.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    /// Whether the file is not an SQLite database (`SQLITE_NOTADB`).
    public var isNotADatabase: Bool { primaryCode == SQLITE_NOTADB }

    /// One line: code, its meaning, message, SQL (whitespace folded), database.
    public var description: String {
        var line = "SQLite error \(resultCode) (\(String(cString: sqlite3_errstr(resultCode)))): \(message)"
        if let sql { line += "; SQL: " + sql.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        line += "; database: " + (path.isEmpty ? ":memory:" : path)
        return line
    }
}
