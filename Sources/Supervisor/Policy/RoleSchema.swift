/// What a role's settings look like in its `[workers.NAME]` table, and how each becomes the role's
/// arguments. The engine knows no role: the program embedding the policy (cidp) describes its
/// roles with these, and the decoder reads the keys with the same file:line:key errors as the
/// rest of the policy. A value's meaning (a page size's range, a gate's name) is the role's to
/// check, through `Policy.locate(worker:problem:)`, which points back to the key that set it.
public struct RoleSchema: Sendable {
    /// One key of the role's table (or of a table nested in it).
    public struct Key: Sendable {
        /// The key's path inside `[workers.NAME]`: `["page_size"]`, `["source", "fields"]`.
        public var path: [String]
        public var shape: Shape
        /// The role's option the key becomes (`--page-size`).
        public var option: String

        public init(_ path: [String], _ shape: Shape, option: String) {
            self.path = path
            self.shape = shape
            self.option = option
        }
    }

    /// A key's TOML value and the arguments it renders.
    public enum Shape: Sendable {
        /// `page_size = 1000` → `--page-size 1000`.
        case integer
        /// `promotion_margin = 0.01` → `--promotion-margin 0.01` (an integer is a number too).
        case number
        /// `backup_dir = "b"` → `--backup-dir b`.
        case string
        /// `[...fields] timestamp = "ts"` → `--field timestamp=ts`, one per key, in file order.
        case stringPairs
        /// `[...ranges] pressure = [0, 50]` → `--range pressure=0:50`, one per key.
        case numberRanges
        /// `[...gates.batch] max_psi = 0.25` → `--gate batch.max_psi=0.25`: a table of tables of
        /// scalars, one argument per scalar.
        case scalarTables
    }

    public var keys: [Key]
    /// Whether the role also takes free-form `args` (the test role; the simulator's options).
    public var acceptsArgs: Bool

    public init(keys: [Key] = [], acceptsArgs: Bool = false) {
        self.keys = keys
        self.acceptsArgs = acceptsArgs
    }

    /// A role that takes `args` and no keys: what a caller that knows only role names gets.
    public static let argumentsOnly = RoleSchema(acceptsArgs: true)

    /// The key, if any, whose option is `option`.
    public func key(option: String) -> Key? { keys.first { $0.option == option } }
}

/// Where a worker's arguments came from in the policy file: what `Policy.locate` reports.
public struct SettingOrigin: Sendable, Equatable {
    /// The arguments the key rendered (`["--gate", "batch.max_psi=0.25"]`).
    public var arguments: [String]
    /// `workers.transformer.gates.batch.max_psi`.
    public var keyPath: String
    public var line: Int?
}
