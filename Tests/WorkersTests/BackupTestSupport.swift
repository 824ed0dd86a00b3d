import Foundation
import Testing
import Workers

/// Damage the backup tests need: an index that disagrees with its table, which `PRAGMA
/// quick_check` does not look at and `PRAGMA integrity_check` does.
enum IndexCorruption {
    /// Renames the serving model's key in the `ml_models_one_serving` index page (`serving` →
    /// `servinh`), so the index no longer holds the row's key: the b-trees stay well formed
    /// (`quick_check` ok), and `integrity_check` reports the row missing from the index. The file
    /// is checkpointed first, so the page is in the main file; no connection may be open on it.
    static func corruptServingIndex(_ path: String) throws {
        let (pageSize, rootPage): (Int64, Int64)
        do {
            let db = try Database(path: path)
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            let query = try db.prepare("SELECT (SELECT page_size FROM pragma_page_size), rootpage FROM sqlite_schema WHERE name = 'ml_models_one_serving'")
            _ = try query.step()
            (pageSize, rootPage) = (query.int64(at: 0), query.int64(at: 1))
        }
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let offset = UInt64((rootPage - 1) * pageSize)
        try handle.seek(toOffset: offset)
        var page = try #require(try handle.read(upToCount: Int(pageSize)))
        // Every occurrence: a retired model's key may linger in the page's free space.
        var replaced = 0
        while let range = page.range(of: Data("serving".utf8)) {
            page.replaceSubrange(range, with: Data("servinh".utf8))
            replaced += 1
        }
        #expect(replaced > 0, "the index page holds no 'serving' key")
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: page)
    }

    /// What `PRAGMA NAME` answers, its rows joined with `; `.
    static func pragma(_ path: String, _ name: String) throws -> String {
        let query = try Database(readOnlyPath: path, busyTimeout: .seconds(5)).prepare("PRAGMA \(name)")
        var rows: [String] = []
        while try query.step() { rows.append(query.string(at: 0)) }
        return rows.joined(separator: "; ")
    }
}
