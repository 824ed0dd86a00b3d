import Posix
import Supervisor
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Everything `cidp up` checks and takes before it changes anything, in an order that leaves the
/// file system as it found it when any check refuses the start (DESIGN.md, invariant 5):
///
/// 1. the arguments and the policy (read only);
/// 2. the run directory's lock (one supervisor per run directory), then the warehouse's lock (one
///    tree per warehouse, whatever its run directory) — the directories and lock files these
///    create are recorded, and removed if a later check refuses;
/// 3. the warehouse, read only: a CIDP warehouse, or a path where one can be created; the logs
///    directory, likewise.
///
/// Only once every check has passed does `commit` write the holders into the locks; then `Up`
/// creates or migrates the warehouse, lifts halts (`--resume`) and opens the logs.
struct UpStart {
    let runLock: RunDirectory.Lock
    let warehouseLock: WarehouseLock?
    /// The warehouse's checkpoint before this run: where the job resumes, and the baseline of
    /// the summary's "this run" counts. Nil for a new warehouse, or a tree without a loader.
    let checkpointBefore: Checkpoint?
    private var created: CreatedPaths

    /// What a re-executed root holds already (`UpHandover`): the locks, still held on the
    /// descriptors the exec kept, and the checkpoint the run started from.
    init(adoptedRunLock: RunDirectory.Lock, warehouseLock: WarehouseLock?, checkpointBefore: Checkpoint?) {
        self.runLock = adoptedRunLock
        self.warehouseLock = warehouseLock
        self.checkpointBefore = checkpointBefore
        self.created = CreatedPaths()
    }

    /// Takes the locks and checks the warehouse and the logs directory.
    /// - Parameter database: the warehouse path when the tree has a loader; nil otherwise.
    /// - Throws: `CLIExit` (exit 2) with one line; whatever was created is removed first.
    init(runDirectory: RunDirectory, database: String?, logsDirectory: String) throws {
        var created = CreatedPaths()
        do {
            let runLock: RunDirectory.Lock
            do { runLock = try runDirectory.acquire(created: &created) } catch {
                throw CLIExit.usage("\(error)")
            }
            var warehouseLock: WarehouseLock?
            var checkpoint: Checkpoint?
            if let database {
                warehouseLock = try WarehouseLock(database: database, created: &created)
                if Warehouse.exists(database) {
                    do { checkpoint = try Warehouse.inspect(path: database) } catch {
                        throw CLIExit.usage("--db: \(error)")
                    }
                } else if let problem = CreatedPaths.problemCreatingFiles(in: WarehouseLock.directory(of: database)) {
                    throw CLIExit.usage("--db: cannot create the warehouse '\(database)': \(problem)")
                }
            }
            if let problem = CreatedPaths.problemCreatingFiles(in: logsDirectory) {
                throw CLIExit.usage("logging.dir '\(logsDirectory)': cannot write the logs there: \(problem)")
            }
            self.runLock = runLock
            self.warehouseLock = warehouseLock
            self.checkpointBefore = checkpoint
            self.created = created
        } catch {
            created.removeAll()
            throw error
        }
    }

    /// Every check passed: the locks say who holds them. Nothing is undone after this.
    func commit(runDirectory: RunDirectory) {
        runLock.announce()
        warehouseLock?.announce(runDirectory: runDirectory)
    }

    /// A refusal after the locks were taken (none is expected past `init`): undo what was created.
    mutating func abandon() { created.removeAll() }
}

/// The lock beside a warehouse (`<db>.lock`): one tree per warehouse, whatever its run
/// directory; `cidp restore` takes it too, so a warehouse is never replaced under a running tree.
struct WarehouseLock {
    let file: LockFile
    let database: String

    /// The lock a re-executed root still holds on `descriptor`.
    init(adopting descriptor: FileDescriptor, database: String) {
        self.database = database
        file = LockFile.adopt(path: Self.path(of: database), descriptor: descriptor)
    }

    /// The lock file of `database`.
    static func path(of database: String) -> String { database + ".lock" }

    /// The directory `database` is in ("." for a bare name).
    static func directory(of database: String) -> String {
        guard let slash = database.lastIndex(of: "/") else { return "." }
        return slash == database.startIndex ? "/" : String(database[..<slash])
    }

    /// Takes the lock, creating the warehouse's directory (recorded in `created`) if missing.
    /// - Throws: `CLIExit` (exit 2) naming the holder (pid and run directory) when another tree
    ///   or a restore holds it, or why the lock cannot be used.
    init(database: String, created: inout CreatedPaths) throws {
        self.database = database
        let path = Self.path(of: database)
        do {
            try created.makeDirectories(Self.directory(of: database), mode: 0o755)
        } catch {
            throw CLIExit.usage("--db: cannot create the directory of '\(database)': \(error)")
        }
        do {
            file = try LockFile.acquire(path, created: &created)
        } catch {
            switch error {
            case .held(let holder):
                throw CLIExit.usage("--db: '\(database)' is in use by another tree (\(holder.isEmpty ? "holder unknown" : holder)); "
                    + "one tree per warehouse: stop it first, or use another --db")
            case .unsafe, .io:
                throw CLIExit.usage("--db: cannot use the lock file of '\(database)', \(path): \(error)")
            }
        }
    }

    /// Writes who holds the lock: our pid and run directory (absolute), for whoever is refused it.
    func announce(runDirectory: RunDirectory) {
        file.announce("cidp up pid \(getpid())\nrun directory \(Self.absolute(runDirectory.path))\n")
    }

    /// Writes that a restore holds the lock.
    func announceRestore() {
        file.announce("cidp restore pid \(getpid())\n")
    }

    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let found = buffer.withUnsafeMutableBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { getcwd($0, bytes.count) } != nil
        }
        guard found, let end = buffer.firstIndex(of: 0) else { return path }
        return String(decoding: buffer[..<end], as: UTF8.self) + "/" + path
    }
}
