import Supervisor
import Workers

/// What each role's `[workers.NAME]` table may hold beyond the supervision keys, and the option of
/// the role each key becomes (`policies/README.md`, "Roles and their settings"). The engine and
/// the policy parser know no role; the roles know no policy: this table joins them, for every
/// command that reads a policy (`cidp up`, `cidp logs`, the drills). The values' ranges are the
/// roles' own checks (`WorkerRole.validate`), reported at the key by `Policy.locate`.
extension WorkerRole {
    /// Every role with its keys, as `PolicyLoader` takes them.
    public static var policySchemas: [String: RoleSchema] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.policySchema) })
    }

    /// The keys of this role's table.
    public var policySchema: RoleSchema {
        typealias Key = RoleSchema.Key
        switch self {
        case .test, .sensorSim:
            // The test role's behaviours and the simulator's data are test equipment: argv stays.
            return RoleSchema(acceptsArgs: true)
        case .extractor:
            return RoleSchema(keys: [
                Key(["page_size"], .integer, option: "--page-size"),
                Key(["window"], .integer, option: "--window"),
                Key(["poll_ms"], .integer, option: "--poll-ms"),
                Key(["malformed_limit"], .integer, option: "--malformed-limit"),
                Key(["give_up_after_s"], .integer, option: "--give-up-after-s"),
                Key(["source", "fields"], .stringPairs, option: "--field"),
                Key(["source", "timestamp_format"], .string, option: "--timestamp-format"),
                Key(["source", "auth"], .string, option: "--auth"),
                Key(["source", "auth_token_file"], .string, option: "--auth-token-file"),
                Key(["source", "auth_token_env"], .string, option: "--auth-token-env"),
                Key(["source", "ca_bundle"], .string, option: "--ca-bundle"),
                Key(["source", "max_body_mb"], .integer, option: "--max-body-mb"),
                Key(["source", "request_deadline_ms"], .integer, option: "--request-deadline-ms"),
                Key(["source", "allow_redirects"], .string, option: "--allow-redirects"),
            ])
        case .transformer:
            return RoleSchema(keys: [
                Key(["window"], .integer, option: "--window"),
                Key(["ranges"], .numberRanges, option: "--range"),
                Key(["gates"], .scalarTables, option: "--gate"),
            ])
        case .loader:
            return RoleSchema(keys: [
                Key(["lock_deadline_ms"], .integer, option: "--lock-deadline-ms"),
                Key(["io_give_up_after_s"], .integer, option: "--io-give-up-after-s"),
            ])
        case .trainer:
            return RoleSchema(keys: [
                Key(["trees"], .integer, option: "--trees"),
                Key(["seed"], .integer, option: "--seed"),
                Key(["retrain_rows"], .integer, option: "--retrain-rows"),
                Key(["retrain_minutes"], .integer, option: "--retrain-minutes"),
                Key(["promotion_margin"], .number, option: "--promotion-margin"),
                Key(["backup_keep"], .integer, option: "--backup-keep"),
                Key(["backup_dir"], .string, option: "--backup-dir"),
                Key(["gates"], .scalarTables, option: "--gate"),
            ])
        case .predictor:
            return RoleSchema(keys: [
                Key(["model_poll_ms"], .integer, option: "--model-poll-ms"),
                Key(["max_body_bytes"], .integer, option: "--max-body-bytes"),
                Key(["max_readings"], .integer, option: "--max-readings"),
            ])
        }
    }
}
