import CSQLite
import Foundation
import Testing
@testable import Workers

@Suite struct WarehouseDatabaseTests {
    @Test func transactionRollsBackAndRethrowsTheFirstError() throws {
        try withTemporaryDirectory { directory in
            let db = try Database(path: directory + "/t.sqlite")
            try db.execute("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            let insert = try db.prepare("INSERT INTO t (x) VALUES (?)")
            #expect {
                try db.transaction(.immediate) { () throws(DatabaseError) in
                    try insert.bind(Int64(1), at: 1)
                    try insert.execute()
                    try insert.execute()  // the same key again
                }
            } throws: { error in
                (error as? DatabaseError)?.resultCode == 2067  // SQLITE_CONSTRAINT_UNIQUE
            }
            #expect(!db.isInTransaction)
            #expect(try queryInteger(directory + "/t.sqlite", "SELECT count(*) FROM t") == 0)
            let value = try db.transaction { () throws(DatabaseError) -> Int64 in
                try insert.bind(Int64(7), at: 1)
                try insert.execute()
                return db.changes
            }
            #expect(value == 1)
            #expect(try queryInteger(directory + "/t.sqlite", "SELECT x FROM t") == 7)
        }
    }

    @Test func lockHeldPastTheBusyTimeoutIsBusy() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/t.sqlite"
            let holder = try Database(path: path)
            try holder.execute("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)")
            let waiter = try Database(path: path, busyTimeout: .milliseconds(20))
            #expect {
                try waiter.execute("BEGIN IMMEDIATE")
            } throws: { error in
                guard let error = error as? DatabaseError else { return false }
                return error.isBusy && error.primaryCode == SQLITE_BUSY && error.sql == "BEGIN IMMEDIATE"
            }
            try holder.execute("COMMIT")
            try waiter.execute("BEGIN IMMEDIATE; ROLLBACK")
        }
    }

    @Test func errorIsOneLineNamingSQLAndPathButNoBoundValue() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/t.sqlite"
            let db = try Database(path: path)
            try db.execute("CREATE TABLE t (name TEXT NOT NULL CHECK (length(name) < 5))")
            let insert = try db.prepare("INSERT INTO t (name)\n    VALUES (?)")
            try insert.bind("secret-value", at: 1)
            do throws(DatabaseError) {
                try insert.execute()
                Issue.record("the CHECK constraint did not fire")
            } catch {
                let text = error.description
                #expect(!text.contains("\n"))
                #expect(!text.contains("secret-value"))
                #expect(text.contains("INSERT INTO t (name) VALUES (?)"))
                #expect(text.contains(path))
                #expect(text.contains("CHECK constraint failed"))
                #expect(error.resultCode == 275)  // SQLITE_CONSTRAINT_CHECK
            }
        }
    }

    @Test func bindsAndReadsEveryType() throws {
        try withTemporaryDirectory { directory in
            let db = try Database(path: directory + "/t.sqlite")
            try db.execute("CREATE TABLE t (i, d, s, b, e, n)")
            let insert = try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)")
            try insert.bind(Int64.min, at: 1)
            try insert.bind(-0.125, at: 2)
            try insert.bind("pompe é", at: 3)
            try insert.bind(blob: [0, 1, 255], at: 4)
            try insert.bind(blob: [], at: 5)
            try insert.bindNull(at: 6)
            try insert.execute()
            let select = try db.prepare("SELECT i, d, s, b, e, n, typeof(e) FROM t")
            #expect(try select.step())
            #expect(select.int64(at: 0) == Int64.min)
            #expect(select.double(at: 1) == -0.125)
            #expect(select.string(at: 2) == "pompe é")
            #expect(select.blob(at: 3) == [0, 1, 255])
            #expect(select.blob(at: 4) == [])
            #expect(select.string(at: 6) == "blob")  // an empty array is a zero-length blob, not NULL
            #expect(select.isNull(at: 5))
            #expect(try !select.step())
        }
    }

    @Test func rawInsertBaselineInsertsTheRowsItIsAskedFor() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/raw.sqlite"
            let rate = try RawInsertBaseline.rawInsertRowsPerSecond(path: path, rows: 2_345, batchSize: 1000)
            #expect(rate > 0)
            #expect(try queryInteger(path, "SELECT count(*) FROM fact_telemetry_features") == 2_345)
            // The simulator's rows: its fleet of pumps, the first and last record's timestamps.
            #expect(try queryInteger(path, "SELECT count(DISTINCT pump_id) FROM fact_telemetry_features") == Int64(TelemetryGenerator.pumpCount))
            let last = TelemetryGenerator(seed: 42, count: 2_345).record(at: 2_344)
            #expect(try queryInteger(path, "SELECT count(*) FROM fact_telemetry_features WHERE pump_id = '\(last.pumpID)' AND timestamp = '\(UTCTimestamp.string(last.timestamp))'") == 1)
        }
    }
}
