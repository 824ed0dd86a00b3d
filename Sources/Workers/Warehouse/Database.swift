import CSQLite
import Wire

/// One SQLite connection, used from one thread at a time (`SQLITE_OPEN_NOMUTEX`).
///
/// Owns its `sqlite3*` and closes it in `deinit`; statements keep their database alive, so a
/// `Statement` never outlives the connection it was prepared on. Extended result codes are on.
public final class Database {
    /// How a transaction takes its locks. C: `BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE`.
    public enum TransactionKind: Sendable {
        /// Locks on first read or write.
        case deferred
        /// Takes the write lock at once, so a busy database fails at `BEGIN`, before any work.
        case immediate
        /// Takes the write lock at once; in WAL mode the same as `immediate`.
        case exclusive

        var beginSQL: String {
            switch self {
            case .deferred: "BEGIN DEFERRED"
            case .immediate: "BEGIN IMMEDIATE"
            case .exclusive: "BEGIN EXCLUSIVE"
            }
        }
    }

    /// Turns off SQLite's memory statistics for this process: without them SQLite takes no
    /// global mutex on every allocation — about 8 % of a bulk insert's time (raw C, 1 M rows, in
    /// docs/BENCHMARKS.md). Call it first thing in a process, before any SQLite call on any
    /// thread (SQLite's configuration is not thread-safe and only applies before it
    /// initializes); afterwards it changes nothing and returns false.
    /// C: `sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)`.
    @discardableResult
    public static func turnOffMemoryStatistics() -> Bool {
        csqlite_config_memstatus_off() == SQLITE_OK
    }

    /// The connection. C: `sqlite3*`.
    let handle: OpaquePointer
    /// The file, as given to `init`.
    public let path: String

    /// Opens `path` read-write, creating the file if missing, and waits up to `busyTimeout` for
    /// another connection's lock before a statement fails with `isBusy`.
    /// C: `sqlite3_open_v2(READWRITE|CREATE|NOMUTEX|EXRESCODE)`, `sqlite3_busy_timeout`.
    ///
    /// SQLite opens lazily: a file that is not a database is only reported by the first statement.
    /// - Throws: `DatabaseError`, e.g. `SQLITE_CANTOPEN` for a directory that cannot be written.
    public convenience init(path: String, busyTimeout: Duration = .zero) throws(DatabaseError) {
        try self.init(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, busyTimeout: busyTimeout)
    }

    /// Opens an existing `path` read-write without creating it: a file that is not there is an
    /// error, not a new database. C: `sqlite3_open_v2(READWRITE|NOMUTEX|EXRESCODE)`.
    /// - Throws: `DatabaseError`, `SQLITE_CANTOPEN` for a missing file.
    public convenience init(existingPath path: String, busyTimeout: Duration = .zero) throws(DatabaseError) {
        try self.init(path: path, flags: SQLITE_OPEN_READWRITE, busyTimeout: busyTimeout)
    }

    /// Opens an existing `path` read-only: never creates it, never writes it (a backup's source,
    /// a file being verified). C: `sqlite3_open_v2(READONLY|NOMUTEX|EXRESCODE)`.
    /// - Throws: `DatabaseError`, `SQLITE_CANTOPEN` for a missing file.
    public convenience init(readOnlyPath path: String, busyTimeout: Duration = .zero) throws(DatabaseError) {
        try self.init(path: path, flags: SQLITE_OPEN_READONLY, busyTimeout: busyTimeout)
    }

    private init(path: String, flags openFlags: Int32, busyTimeout: Duration) throws(DatabaseError) {
        // Before the first connection of the process: a test may have asked for failing I/O.
        _ = SQLiteFaults.isInstalled
        self.path = path
        var connection: OpaquePointer?
        let flags = openFlags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            let resultCode = connection.map { sqlite3_extended_errcode($0) } ?? code
            sqlite3_close_v2(connection)
            throw DatabaseError(resultCode: resultCode, message: message, path: path)
        }
        handle = connection
        sqlite3_extended_result_codes(connection, 1)
        setBusyTimeout(busyTimeout)
    }

    deinit {
        // v2: statements still alive would make the connection a zombie closed with the last of
        // them, but a statement retains its database, so none can be alive here.
        sqlite3_close_v2(handle)
    }

    /// How long a statement waits for another connection's lock. C: `sqlite3_busy_timeout`.
    public func setBusyTimeout(_ timeout: Duration) {
        sqlite3_busy_timeout(handle, Int32(clamping: max(0, timeout.milliseconds)))
    }

    /// Runs one or more `;`-separated statements that bind nothing. C: `sqlite3_exec`.
    /// - Throws: `DatabaseError` naming `sql`.
    public func execute(_ sql: String) throws(DatabaseError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard code == SQLITE_OK else {
            throw error(code: sqlite3_extended_errcode(handle), sql: sql, message: message.map { String(cString: $0) })
        }
    }

    /// Compiles one statement. C: `sqlite3_prepare_v3` with `SQLITE_PREPARE_PERSISTENT` (it is meant to be reused).
    /// - Throws: `DatabaseError` naming `sql` (syntax, unknown table, busy reading the schema, …).
    public func prepare(_ sql: String) throws(DatabaseError) -> Statement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw error(code: code == SQLITE_OK ? SQLITE_MISUSE : sqlite3_extended_errcode(handle), sql: sql)
        }
        return Statement(handle: statement, database: self, sql: sql)
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it (or `COMMIT`)
    /// throws, and rethrows that first error, never one from the rollback.
    /// - Throws: `DatabaseError` from `BEGIN`, `body` or `COMMIT`; a busy `BEGIN` is `isBusy`.
    public func transaction<T>(
        _ kind: TransactionKind = .deferred, _ body: () throws(DatabaseError) -> T
    ) throws(DatabaseError) -> T {
        try transaction(kind, wrapping: { $0 }, body)
    }

    /// `transaction(_:_:)` for a body that throws its own error type: SQLite's failures of
    /// `BEGIN` and `COMMIT` become `Failure` through `wrap`.
    /// - Throws: `Failure`, the first error; the transaction is rolled back.
    public func transaction<T, Failure: Error>(
        _ kind: TransactionKind = .deferred, wrapping wrap: (DatabaseError) -> Failure,
        _ body: () throws(Failure) -> T
    ) throws(Failure) -> T {
        do throws(DatabaseError) { try execute(kind.beginSQL) } catch { throw wrap(error) }
        let result: T
        do {
            result = try body()
        } catch {
            rollBackIfActive()
            throw error
        }
        do throws(DatabaseError) {
            try execute("COMMIT")
        } catch {
            rollBackIfActive()
            throw wrap(error)
        }
        return result
    }

    /// Whether a transaction is open. C: `!sqlite3_get_autocommit`.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Rows changed by the last INSERT, UPDATE or DELETE. C: `sqlite3_changes64`.
    public var changes: Int64 { sqlite3_changes64(handle) }

    /// Rolls back, if a transaction is still open (some errors, like `SQLITE_FULL`, already
    /// rolled it back), ignoring the outcome: the caller reports the error that led here.
    private func rollBackIfActive() {
        if isInTransaction { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
    }

    /// The error for `code`, with SQLite's current message unless one is given.
    func error(code: Int32, sql: String?, message: String? = nil) -> DatabaseError {
        DatabaseError(
            resultCode: code, message: message ?? String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
    }
}
