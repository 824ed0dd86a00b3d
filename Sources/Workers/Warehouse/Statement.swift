import CSQLite

/// A compiled statement, reused: bind by 1-based index, `step` or `execute`, read columns by
/// 0-based index. Finalized in `deinit`; it keeps its `Database` alive.
///
/// Binding copies the value into SQLite (`SQLITE_TRANSIENT`), into a buffer SQLite keeps from
/// one bind to the next, so a reused statement does not allocate per row.
public final class Statement {
    /// C: `sqlite3_stmt*`.
    let handle: OpaquePointer
    /// The connection it was prepared on.
    public let database: Database
    /// The SQL it was compiled from; errors name it.
    public let sql: String

    init(handle: OpaquePointer, database: Database, sql: String) {
        self.handle = handle
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Tells SQLite to copy what is bound. C: `SQLITE_TRANSIENT`, a macro Swift cannot import.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    // MARK: Binding

    /// Binds an integer. C: `sqlite3_bind_int64`.
    public func bind(_ value: Int64, at index: Int32) throws(DatabaseError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    /// Binds a double; SQLite stores NaN as NULL. C: `sqlite3_bind_double`.
    public func bind(_ value: Double, at index: Int32) throws(DatabaseError) {
        try check(sqlite3_bind_double(handle, index, value))
    }

    /// Binds text. C: `sqlite3_bind_text`.
    public func bind(_ value: String, at index: Int32) throws(DatabaseError) {
        var value = value
        // Native strings are contiguous UTF-8 already: no copy here, one copy into SQLite.
        let code = value.withUTF8 { bytes in Self.bindText(handle, index, bytes) }
        try check(code)
    }

    /// Binds UTF-8 text given as bytes, e.g. from a reused buffer. C: `sqlite3_bind_text`.
    public func bind(utf8 bytes: UnsafeBufferPointer<UInt8>, at index: Int32) throws(DatabaseError) {
        try check(Self.bindText(handle, index, bytes))
    }

    /// Binds a blob; an empty one is a zero-length blob, not NULL. C: `sqlite3_bind_blob`, `sqlite3_bind_zeroblob`.
    public func bind(blob value: [UInt8], at index: Int32) throws(DatabaseError) {
        let code = value.withUnsafeBytes { bytes in
            // A NULL pointer would bind NULL, so an empty array takes the zeroblob path.
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
            return sqlite3_bind_blob(handle, index, base, Int32(bytes.count), Self.transient)
        }
        try check(code)
    }

    /// Binds NULL. C: `sqlite3_bind_null`.
    public func bindNull(at index: Int32) throws(DatabaseError) {
        try check(sqlite3_bind_null(handle, index))
    }

    private static func bindText(_ handle: OpaquePointer, _ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        // A NULL pointer would bind NULL, so empty text points at a static empty C string.
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            return StaticString("").withUTF8Buffer { empty in
                empty.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, index, $0.baseAddress, 0, transient) }
            }
        }
        return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            sqlite3_bind_text(handle, index, $0, Int32(bytes.count), transient)
        }
    }

    // MARK: Running

    /// Runs one step: true with a row to read, false when done. C: `sqlite3_step`.
    ///
    /// On an error the statement is reset (so it releases its locks) and can be reused.
    /// - Throws: `DatabaseError` naming the SQL, never the bound values; `isBusy` when locked past the timeout.
    @discardableResult
    public func step() throws(DatabaseError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code:
            // Extended result codes are on, so `code` is already the extended one.
            let error = database.error(code: code, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion, discarding rows, then resets it for the next binds.
    /// - Throws: `DatabaseError` as `step`.
    public func execute() throws(DatabaseError) {
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Rewinds the statement after reading rows; bindings stay. C: `sqlite3_reset`.
    public func reset() { sqlite3_reset(handle) }

    // MARK: Columns (0-based, valid after `step()` returned true)

    /// The storage class of a column. C: `sqlite3_column_type` (`SQLITE_INTEGER`, `SQLITE_FLOAT`, `SQLITE_TEXT`, `SQLITE_BLOB`, `SQLITE_NULL`).
    public func columnType(at index: Int32) -> Int32 { sqlite3_column_type(handle, index) }

    /// Whether a column is NULL.
    public func isNull(at index: Int32) -> Bool { columnType(at: index) == SQLITE_NULL }

    /// A column as an integer. C: `sqlite3_column_int64`.
    public func int64(at index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

    /// A column as a double. C: `sqlite3_column_double`.
    public func double(at index: Int32) -> Double { sqlite3_column_double(handle, index) }

    /// A column as text; NULL reads as empty. C: `sqlite3_column_text`.
    public func string(at index: Int32) -> String {
        withUTF8(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// A column's text bytes, without copying them into a String. C: `sqlite3_column_text`, `sqlite3_column_bytes`.
    public func withUTF8<T>(at index: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        let text = sqlite3_column_text(handle, index)
        let count = Int(sqlite3_column_bytes(handle, index))
        return body(UnsafeBufferPointer(start: text, count: text == nil ? 0 : count))
    }

    /// A column as bytes; NULL and a zero-length blob read as empty. C: `sqlite3_column_blob`.
    public func blob(at index: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, index) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, index))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    private func check(_ code: Int32) throws(DatabaseError) {
        guard code == SQLITE_OK else { throw database.error(code: code, sql: sql) }
    }
}
