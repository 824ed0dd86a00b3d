import Posix
import Foundation
import Glibc
import Wire
import CivilCalendar

/// One warehouse's backups of one kind in one directory: the files named
/// `PREFIX` `YYYYMMDD-HHMMSS-mmm` (UTC, with milliseconds) `SUFFIX`, or `PREFIX` `YYYYMMDD-HHMMSS-mmm-N`
/// `SUFFIX` (N = 1, 2, …, no leading zero) when the name without `-N` was already taken.
///
/// - The trainer's: `BackupSeries(warehouse:kind:in:)`, `STEM-pre-train-20250102-030405-678.sqlite`
///   for `…/industrial_dwh.sqlite` (STEM, the file name less its extension: `Warehouse.backupStem`).
/// - The copies a restore keeps: `BackupSeries(safetyCopiesOf:)`, `industrial_dwh.sqlite.before-restore-…`
///   beside the warehouse, each with its `-wal` when it had one (`companions`); names without
///   milliseconds (`YYYYMMDD-HHMMSS`, from before this naming) belong to it too.
///
/// The pattern is strict: a name belongs to the series only if what follows `PREFIX` is exactly a
/// stamp (and `-N`) then `SUFFIX`. So warehouse `a`'s series never matches
/// `a-pre-train-x-pre-train-…` of a warehouse named `a-pre-train-x`, nor `a-pre-train-….sqlite.partial`.
/// Members sort by stamp, then N: the order they were made in, as long as the clock does not step back.
public struct BackupSeries: Hashable, Sendable {
    /// Where the files are.
    public let directory: String
    /// What every name starts with: `industrial_dwh-pre-train-`.
    public let prefix: String
    /// What every name ends with: `.sqlite`, or nothing.
    public let suffix: String
    /// Whether a stamp without milliseconds (`YYYYMMDD-HHMMSS`) belongs to the series too.
    public let acceptsSecondStamps: Bool
    /// Files that go with a member and are deleted with it: `NAME-wal` and `NAME-shm` for a
    /// restore's copies (which are in WAL mode: opening one, even read-only, may make them).
    public let companions: [String]

    /// A series with every field given.
    public init(directory: String, prefix: String, suffix: String, acceptsSecondStamps: Bool = false, companions: [String] = []) {
        precondition(!prefix.contains("/") && !suffix.contains("/"), "a backup series' names have no '/'")
        self.directory = directory.isEmpty ? "." : directory
        self.prefix = prefix
        self.suffix = suffix
        self.acceptsSecondStamps = acceptsSecondStamps
        self.companions = companions
    }

    /// The automatic backups of the warehouse at `warehousePath` of one `kind` (the trainer's
    /// `pre-train`) in `directory`: `STEM-KIND-YYYYMMDD-HHMMSS-mmm[-N].sqlite`.
    public init(warehouse warehousePath: String, kind: String, in directory: String) {
        self.init(directory: directory, prefix: Warehouse.backupStem(of: warehousePath) + "-" + kind + "-", suffix: ".sqlite")
    }

    /// The copies `Warehouse.restore` keeps of the warehouses it replaced at `warehousePath`, beside it:
    /// `NAME.before-restore-YYYYMMDD-HHMMSS-mmm[-N]`, each with its `-wal` (and `-shm`).
    public init(safetyCopiesOf warehousePath: String) {
        let name = warehousePath.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? warehousePath
        self.init(directory: Warehouse.parentDirectory(of: warehousePath), prefix: name + ".before-restore-", suffix: "",
                  acceptsSecondStamps: true, companions: ["-wal", "-shm"])
    }

    /// The kind of the trainer's backups before training: `STEM-pre-train-…`.
    public static let preTrainingKind = "pre-train"

    /// The file the series' member `name` is written to before it is verified and linked into place.
    public static let partialSuffix = ".partial"

    /// The files SQLite may leave beside a `.partial` it was writing (its rollback journal, a WAL).
    static let partialCompanions = ["-journal", "-wal", "-shm"]

    // MARK: Names

    /// The name of the member made at `milliseconds` (Unix, UTC), the `attempt`th choice:
    /// `PREFIX` `YYYYMMDD-HHMMSS-mmm` `SUFFIX` for 0, then `…-mmm-1`, `…-mmm-2`.
    public func name(atMilliseconds milliseconds: Int64, attempt: Int = 0) -> String {
        precondition(attempt >= 0, "attempt \(attempt)")
        let seconds = CivilDate.floorDivide(milliseconds, 1000)
        let millisecond = milliseconds - seconds * 1000
        // `YYYY-MM-DD HH:MM:SS` → `YYYYMMDD-HHMMSS`.
        let stamp = UTCTimestamp.string(seconds).filter { $0 != "-" && $0 != ":" }.replacingOccurrences(of: " ", with: "-")
        let milli = String(millisecond + 1000).dropFirst()
        return prefix + stamp + "-" + milli + (attempt == 0 ? "" : "-\(attempt)") + suffix
    }

    /// Where a member sorts: its stamp's digits (milliseconds 000 for a stamp without them), then N.
    struct Order: Comparable {
        var stamp: String
        var attempt: Int
        static func < (a: Order, b: Order) -> Bool { (a.stamp, a.attempt) < (b.stamp, b.attempt) }
    }

    /// Where `name` sorts, if it is exactly a member's name (not a companion, not a `.partial`).
    func order(of name: String) -> Order? {
        // Bytes, not characters: a stem ending in a combining mark must not change what matches.
        let bytes = Array(name.utf8)
        guard bytes.count > prefix.utf8.count + suffix.utf8.count, bytes.starts(with: prefix.utf8),
              bytes.reversed().starts(with: suffix.utf8.reversed()) else { return nil }
        let middle = Array(bytes.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count))
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= middle.count && middle[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        }
        func dash(_ index: Int) -> Bool { index < middle.count && middle[index] == UInt8(ascii: "-") }
        // YYYYMMDD-HHMMSS
        guard digits(0..<8), dash(8), digits(9..<15) else { return nil }
        let seconds = String(decoding: middle[0..<8] + middle[9..<15], as: UTF8.self)
        if middle.count == 15 { return acceptsSecondStamps ? Order(stamp: seconds + "000", attempt: 0) : nil }
        // -mmm
        guard dash(15), digits(16..<19) else { return nil }
        let stamp = seconds + String(decoding: middle[16..<19], as: UTF8.self)
        if middle.count == 19 { return Order(stamp: stamp, attempt: 0) }
        // -N: 1…999999999, no leading zero.
        guard dash(19), middle.count > 20, middle.count <= 29, digits(20..<middle.count), middle[20] != UInt8(ascii: "0"),
              let attempt = Int(String(decoding: middle[20...], as: UTF8.self)) else { return nil }
        return Order(stamp: stamp, attempt: attempt)
    }

    /// Whether `name` is exactly a member's name.
    public func contains(_ name: String) -> Bool { order(of: name) != nil }

    // MARK: Files

    /// The members present, oldest first (by stamp, then N). A missing directory has none.
    /// - Throws: `WarehouseError.Code.fileOperation` for a directory that cannot be listed.
    public func members() throws(WarehouseError) -> [String] {
        try names().compactMap { name in order(of: name).map { (name, $0) } }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// The first attempt (`name(atMilliseconds:attempt:)`) to try for a new member made at
    /// `milliseconds`: one past the highest of the members with that stamp, 0 if none. A name
    /// freed by rotation is not reused within its millisecond, so a new member sorts after the
    /// older ones of its stamp.
    /// - Throws: `WarehouseError.Code.fileOperation` for a directory that cannot be listed.
    public func firstAttempt(atMilliseconds milliseconds: Int64) throws(WarehouseError) -> Int {
        guard let stamp = order(of: name(atMilliseconds: milliseconds))?.stamp else { return 0 }
        let attempts = try names().compactMap { order(of: $0) }.filter { $0.stamp == stamp }.map(\.attempt)
        return attempts.max().map { $0 + 1 } ?? 0
    }

    /// The newest member, or nil.
    public func newest() throws(WarehouseError) -> String? { try members().last }

    /// Deletes the members but the newest `keep`, and never one named in `protecting` (the
    /// backup just made: were the clock stepped back, it would sort before older ones), each
    /// with its companions. Other files are left alone.
    /// - Returns: the paths of the members deleted, oldest first.
    /// - Throws: `WarehouseError.Code.fileOperation` for a directory that cannot be listed or a file
    ///   that cannot be deleted (those deleted before stay deleted).
    @discardableResult
    public func rotate(keep: Int, protecting: Set<String> = []) throws(WarehouseError) -> [String] {
        precondition(keep >= 0, "rotate: keep \(keep) is negative")
        var deleted: [String] = []
        for name in try members().dropLast(keep) where !protecting.contains(name) {
            for file in [name] + companions.map({ name + $0 }) {
                try Warehouse.removeIfPresent(path(of: file))
            }
            deleted.append(path(of: name))
        }
        return deleted
    }

    /// Deletes the `.partial` files of this series that no backup is writing (with the journal,
    /// WAL and shared-memory files SQLite may have left beside them): what a backup killed
    /// midway leaves. A backup in progress holds an exclusive `flock(2)` on its `.partial`
    /// (`PartialFile`), so one that can be locked here is stale, whichever process left it.
    /// - Returns: the paths of the `.partial` files deleted.
    /// - Throws: `WarehouseError.Code.fileOperation` for a directory that cannot be listed or a
    ///   file that cannot be deleted.
    @discardableResult
    public func removeStalePartials() throws(WarehouseError) -> [String] {
        var removed: [String] = []
        for name in try names() where name.hasSuffix(Self.partialSuffix) && contains(String(name.dropLast(Self.partialSuffix.count))) {
            if try PartialFile.removeIfStale(path(of: name)) == .removed { removed.append(path(of: name)) }
        }
        return removed
    }

    /// `directory/name`.
    public func path(of name: String) -> String { directory == "/" ? "/" + name : directory + "/" + name }

    /// Every entry of the directory; none when it does not exist. C: `opendir`, `readdir`.
    private func names() throws(WarehouseError) -> [String] {
        guard let entries = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw WarehouseError(.fileOperation("opendir", file: directory, errno: .current), path: directory)
        }
        defer { closedir(entries) }
        var names: [String] = []
        while let entry = readdir(entries) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
        }
        return names
    }

    /// Now, in Unix milliseconds.
    public static func nowMilliseconds() -> Int64 { Posix.unixMilliseconds() }
}

extension Warehouse {
    /// What a warehouse's backups are named after: its file name less the extension
    /// (`industrial_dwh` for `database/industrial_dwh.sqlite`; `warehouse` for an empty one).
    /// Two warehouses whose names differ only in the extension (`a.sqlite`, `a.db`) share a stem:
    /// give them different backup directories.
    public static func backupStem(of warehousePath: String) -> String {
        let name = URL(fileURLWithPath: warehousePath).deletingPathExtension().lastPathComponent
        return name.isEmpty || name == "/" ? "warehouse" : name
    }
}
