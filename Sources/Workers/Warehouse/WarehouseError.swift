import Posix
import CSQLite
import Glibc
import Wire

/// Why the warehouse could not be opened, read or written, and which file.
///
/// `description` is one line starting with the path, for example
/// `warehouse '/data/dwh.sqlite': locked by another connection; gave up after 30.2 s (deadline 30 s), nothing was written`.
/// Every failure leaves the database as it was.
public struct WarehouseError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Code: Equatable, Sendable {
        /// The parent directory is missing and could not be created.
        case cannotCreateDirectory(String, errno: Errno)
        /// The parent directory exists but this process may not create files in it
        /// (SQLite needs to, for the `-wal` and `-shm` files).
        case directoryNotWritable(String, errno: Errno)
        /// The file exists and is not an SQLite database.
        case notADatabase
        /// A table exists with other columns than the warehouse's: `expected` and `found`
        /// list `name TYPE [NOT NULL] [PK n]`.
        case unexpectedShape(table: String, expected: String, found: String)
        /// `schema_migrations` names a migration this version does not know (a newer schema).
        case unknownMigration(String)
        /// The checkpoint row does not decode; the string says which field and why.
        case badCheckpoint(String)
        /// A fact row does not decode (`rows(orderedBy:)`); the string says which and why.
        case badRow(String)
        /// The caller passed a batch the warehouse must not store (a programming error
        /// upstream, e.g. records without rolling means); nothing was written.
        case invalidBatch(String)
        /// The caller passed a model `publish` must not store (a `.retired` status, parameters
        /// that are not JSON, metrics that do not encode); nothing was written.
        case invalidModel(String)
        /// The caller passed predictions `publish` must not store (lengths that differ, a risk
        /// outside 0…1, a flag not 0 or 1); nothing was written.
        case invalidPredictions(String)
        /// An `ml_models` row does not decode; the string says which and why.
        case badModelRow(String)
        /// Another connection held the write lock past the lock policy's deadline.
        case locked(waited: Duration, deadline: Duration)
        /// Any other SQLite failure.
        case database(DatabaseError)
        /// The database file to read (a backup's source, a file to verify or restore) does not exist.
        case noSuchFile
        /// A backup's destination already exists; it was left as it is.
        case destinationExists(String)
        /// A copy failed its check (`PRAGMA quick_check`, a missing table); the string says what
        /// was found. A backup deletes such a copy before throwing.
        case verificationFailed(String)
        /// A file operation of a backup or restore failed: the call, the file, `errno`.
        case fileOperation(String, file: String, errno: Errno)
        /// `rewind(toBatch:)` cannot go there; the string says why. Nothing was changed.
        case cannotRewind(String)
    }

    /// What went wrong.
    public var code: Code
    /// The database file.
    public var path: String

    /// An error about the warehouse at `path`.
    public init(_ code: Code, path: String) {
        self.code = code
        self.path = path
    }

    /// One line: path, then what.
    public var description: String {
        let what = switch code {
        case .cannotCreateDirectory(let directory, let errno):
            "cannot create directory '\(directory)': \(errno)"
        case .directoryNotWritable(let directory, let errno):
            "directory '\(directory)' is not writable: \(errno)"
        case .notADatabase:
            "file is not an SQLite database"
        case .unexpectedShape(let table, let expected, let found):
            "table '\(table)' has an unexpected shape: expected (\(expected)), found (\(found))"
        case .unknownMigration(let name):
            "schema_migrations records '\(name)', which this version does not know (a newer schema?)"
        case .badCheckpoint(let why):
            "checkpoint row does not decode: \(why)"
        case .badRow(let why):
            "fact row does not decode: \(why)"
        case .invalidBatch(let why):
            "batch refused: \(why)"
        case .invalidModel(let why):
            "model refused: \(why)"
        case .invalidPredictions(let why):
            "predictions refused: \(why)"
        case .badModelRow(let why):
            "model row does not decode: \(why)"
        case .locked(let waited, let deadline):
            "locked by another connection; gave up after \(Self.seconds(waited)) (deadline \(Self.seconds(deadline))), nothing was written"
        case .database(let error):
            error.description
        case .noSuchFile:
            "no such file"
        case .destinationExists(let destination):
            "destination '\(destination)' already exists; nothing was written"
        case .verificationFailed(let why):
            "verification failed: \(why)"
        case .fileOperation(let call, let file, let errno):
            "\(call) '\(file)' failed: \(errno)"
        case .cannotRewind(let why):
            "cannot rewind: \(why); nothing was changed"
        }
        return "warehouse '\(path)': \(what)"
    }

    /// `1.25 s`.
    private static func seconds(_ duration: Duration) -> String {
        let hundredths = (duration.milliseconds + 5) / 10
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
    }
}

extension WarehouseError {
    /// Wraps an SQLite failure, recognising a file that is not a database.
    init(_ error: DatabaseError, path: String) {
        self.init(error.isNotADatabase ? .notADatabase : .database(error), path: path)
    }
}

extension WarehouseError {
    /// Whether the failure is the world's, not the data's: a full disk, an I/O error, a lock held
    /// past its deadline, no memory, no descriptors. Such a failure says nothing about the batch
    /// being written — it is waited out (`degraded`, retried with backoff) and never counted
    /// towards a poison pill; a later attempt of the same work may succeed unchanged.
    public var isEnvironmental: Bool {
        switch code {
        case .locked:
            return true
        case .database(let error):
            switch error.primaryCode {
            case SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_CANTOPEN, SQLITE_PROTOCOL:
                return true
            default:
                return false
            }
        case .cannotCreateDirectory(_, let errno), .directoryNotWritable(_, let errno), .fileOperation(_, _, let errno):
            return [ENOSPC, EIO, EMFILE, ENFILE, ENOMEM, EDQUOT, EAGAIN].contains(errno.rawValue)
        default:
            return false
        }
    }

    /// The cause, short, for a `degraded` reason: `disk full`, `I/O error`, `locked`, ….
    public var environmentalCause: String {
        switch code {
        case .locked: return "locked by another connection"
        case .database(let error):
            switch error.primaryCode {
            case SQLITE_FULL: return "disk full"
            case SQLITE_IOERR: return "I/O error"
            case SQLITE_BUSY, SQLITE_LOCKED: return "locked by another connection"
            case SQLITE_NOMEM: return "out of memory"
            case SQLITE_CANTOPEN: return "cannot open the file"
            default: return "SQLite error \(error.resultCode)"
            }
        case .cannotCreateDirectory(_, let errno), .directoryNotWritable(_, let errno), .fileOperation(_, _, let errno):
            return errno.description
        default: return "\(self)"
        }
    }
}
