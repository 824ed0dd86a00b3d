/// Workers, `[defaults]` and backoff tables.
extension PolicyDecoder {
    /// Decodes `[defaults]` (and `[defaults.backoff]`); an absent table sets nothing.
    func decodeDefaults() throws(PolicyError) -> WorkerSettings {
        guard let table = try root.subtable("defaults") else { return WorkerSettings() }
        try table.checkKeys(PolicySchema.defaults)
        let settings = try decodeSettings(table)
        try checkBackoff(settings.backoff, definedAt: table.path)
        return settings
    }

    /// Decodes `[workers.<name>]`, with `defaults` filling the keys it does not set.
    func decodeWorker(_ table: TableReader, name: String, defaults: WorkerSettings) throws(PolicyError) -> WorkerDefinition {
        let known = roles.keys.sorted().joined(separator: ", ")
        guard let role = try table.string("role") else {
            try table.checkKeys(PolicySchema.worker)
            throw table.error("role", "missing required key; known roles: \(known)")
        }
        guard let schema = roles[role] else {
            throw table.error("role", "unknown role \(role.quotedForMessage); known roles: \(known)")
        }
        var topKeys: [String] = []
        for key in schema.keys where !topKeys.contains(key.path[0]) { topKeys.append(key.path[0]) }
        try table.checkKeys(PolicySchema.worker + topKeys)
        var arguments = try table.strings("args") ?? []
        if let index = arguments.firstIndex(where: { $0.utf8.contains(0) }) {
            throw table.error("args", "expected strings without NUL characters, got one at index \(index)")
        }
        if table.contains("args"), !schema.acceptsArgs {
            throw refuseArguments(arguments, of: role, schema: schema, in: table)
        }
        let origins = try decodeRoleKeys(table, schema: schema)
        arguments += origins.flatMap(\.arguments)
        arguments += try decodeListen(table)
        let environment = try table.stringTable("env") ?? [:]
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) {
            let path = table.path("env") + [key]
            guard !key.isEmpty, !key.contains("="), !key.utf8.contains(0) else {
                throw source.error(at: path, "expected an environment variable name without '=', got \(key.quotedForMessage)")
            }
            guard !value.utf8.contains(0) else {
                throw source.error(at: path, "expected a value without NUL characters")
            }
        }
        let input = try table.string("input")
        let settings = try decodeSettings(table).overriding(defaults)
        try checkBackoff(settings.backoff, definedAt: table.path)
        return WorkerDefinition(name: name, path: table.path, role: role, arguments: arguments, origins: origins,
                                environment: environment, input: input, settings: settings)
    }

    /// `listen` and `allow_non_loopback`: the address a worker that serves HTTP (the predictor)
    /// listens on, checked as `[metrics] listen` is (IPv4 `HOST:PORT`, loopback unless
    /// `allow_non_loopback = true`), handed to it as `--listen HOST:PORT`. A role that serves
    /// nothing refuses the option when `cidp up` checks the workers' arguments.
    func decodeListen(_ table: TableReader) throws(PolicyError) -> [String] {
        var allowsNonLoopback = false
        if let value = table.table["allow_non_loopback"] {
            guard let flag = value.bool else { throw table.error("allow_non_loopback", "expected true or false") }
            allowsNonLoopback = flag
        }
        guard let text = try table.string("listen", expected: "a string \"HOST:PORT\"") else { return [] }
        let address: MetricsAddress
        do throws(MetricsAddress.Problem) { address = try MetricsAddress(parsing: text) } catch {
            throw table.error("listen", "\(error.description) in \(text.quotedForMessage); expected \"HOST:PORT\" "
                + "with an IPv4 address and a port from 0 to 65535 (\"127.0.0.1:9465\"; port 0 for any free port)")
        }
        guard address.isLoopback || allowsNonLoopback else {
            throw table.error("listen", "\(text.quotedForMessage) is not a loopback address (127.0.0.0/8); a worker "
                + "serves beyond this machine only with allow_non_loopback = true in its table")
        }
        return ["--listen", address.description] + (address.isLoopback ? [] : ["--allow-non-loopback"])
    }

    /// The supervision keys shared by workers and `[defaults]`, each checked for range.
    func decodeSettings(_ table: TableReader) throws(PolicyError) -> WorkerSettings {
        var settings = WorkerSettings()
        if let text = try table.string("restart") {
            guard let restart = RestartType(rawValue: text) else {
                let allowed = RestartType.allCases.map(\.rawValue).joined(separator: ", ")
                throw table.error("restart", "unknown restart type \(text.quotedForMessage); expected one of: \(allowed)")
            }
            settings.restart = restart
        }
        if let value = table.table["shutdown"] {
            let expected = "expected a duration in milliseconds >= 0 or \"brutal_kill\""
            if let milliseconds = value.int {
                guard milliseconds >= 0 else { throw table.error("shutdown", "\(expected), got \(milliseconds)") }
                settings.shutdown = .grace(.milliseconds(milliseconds))
            } else if value.string == "brutal_kill" {
                settings.shutdown = .brutalKill
            } else {
                throw table.error("shutdown", "\(expected), got \(TableReader.describe(value))")
            }
        }
        if let timeout = try table.integer("readiness_timeout_ms", expected: "an integer number of milliseconds") {
            guard timeout > 0 else {
                throw table.error("readiness_timeout_ms", "expected a timeout in milliseconds > 0, got \(timeout)")
            }
            settings.readinessTimeoutMilliseconds = timeout
        }
        if let watchdog = try table.integer("watchdog_ms", expected: "an integer number of milliseconds") {
            guard watchdog == 0 || watchdog >= 10 else {
                throw table.error("watchdog_ms", "expected 0 (no watchdog) or a period in milliseconds >= 10, got \(watchdog)")
            }
            settings.watchdogMilliseconds = watchdog
        }
        if let megabytes = try table.integer("memory_limit_mb", expected: "an integer number of MiB") {
            // RLIMIT_AS counts address space, not resident memory: a cidp worker maps about
            // 80 MiB (runtime, libraries, thread stacks) before it allocates anything.
            guard megabytes == 0 || megabytes >= 128 else {
                throw table.error("memory_limit_mb", "expected 0 (no limit) or a limit in MiB >= 128 "
                    + "(an address-space limit; a worker maps about 80 MiB at start), got \(megabytes)")
            }
            let (bytes, overflow) = UInt64(megabytes).multipliedReportingOverflow(by: 1024 * 1024)
            guard !overflow else {
                throw table.error("memory_limit_mb", "\(megabytes) MiB overflows a 64-bit byte count; "
                    + "expected at most \(UInt64.max >> 20)")
            }
            settings.memoryLimitBytes = bytes
        }
        if let crashes = try table.integer("poison_pill_crashes", expected: "an integer number of crashes") {
            guard crashes >= 0 else {
                throw table.error("poison_pill_crashes",
                                  "expected 0 (off) or a number of consecutive crashes on one item >= 1, got \(crashes)")
            }
            settings.poisonPillCrashes = Sourced(value: crashes, path: table.path("poison_pill_crashes"))
        }
        if let backoff = try table.subtable("backoff") {
            settings.backoff = try decodeBackoff(backoff)
        }
        return settings
    }

    /// Decodes a `backoff` table; `max_ms >= initial_ms` is checked once merged, by `checkBackoff`.
    func decodeBackoff(_ table: TableReader) throws(PolicyError) -> BackoffSettings {
        try table.checkKeys(PolicySchema.backoff)
        var settings = BackoffSettings()
        for key in ["initial_ms", "max_ms"] {
            guard let milliseconds = try table.integer(key, expected: "an integer number of milliseconds") else { continue }
            guard milliseconds >= 0 else {
                throw table.error(key, "expected a delay in milliseconds >= 0, got \(milliseconds)")
            }
            let sourced = Sourced(value: milliseconds, path: table.path(key))
            if key == "initial_ms" { settings.initialMilliseconds = sourced } else { settings.maximumMilliseconds = sourced }
        }
        if let multiplier = try table.number("multiplier") {
            guard multiplier >= 1 else {
                throw table.error("multiplier", "expected a multiplier >= 1.0, got \(multiplier)")
            }
            settings.multiplier = Sourced(value: multiplier, path: table.path("multiplier"))
        }
        if let jitter = try table.number("jitter") {
            guard (0...1).contains(jitter) else {
                throw table.error("jitter", "expected a fraction between 0.0 and 1.0, got \(jitter)")
            }
            settings.jitter = Sourced(value: jitter, path: table.path("jitter"))
        }
        if let stable = try table.integer("stable_ms", expected: "an integer number of milliseconds") {
            guard stable > 0 else {
                throw table.error("stable_ms", "expected a period in milliseconds > 0, got \(stable)")
            }
            settings.stableMilliseconds = Sourced(value: stable, path: table.path("stable_ms"))
        }
        return settings
    }

    /// Checks `max_ms >= initial_ms` on a merged backoff, blaming the more specific of the two keys.
    /// - Parameter owner: the worker or `[defaults]` table the merged backoff belongs to.
    func checkBackoff(_ backoff: BackoffSettings, definedAt owner: [String]) throws(PolicyError) {
        let builtIn = Backoff()
        let initial = backoff.initialMilliseconds
        let maximum = backoff.maximumMilliseconds
        let initialValue = initial?.value ?? Int(builtIn.initial.milliseconds)
        let maximumValue = maximum?.value ?? Int(builtIn.maximum.milliseconds)
        guard maximumValue < initialValue else { return }
        // A key set in the worker's own table is more specific than one set in [defaults].
        func specificity(_ path: [String]?) -> Int {
            guard let path else { return 0 }
            return Array(path.prefix(owner.count)) == owner ? 2 : 1
        }
        let blameMaximum = specificity(maximum?.path) >= specificity(initial?.path)
        let blamed = (blameMaximum ? maximum?.path : initial?.path) ?? owner + ["backoff"]
        func origin(_ path: [String]?) -> String { path?.joined(separator: ".") ?? "built-in default" }
        if let initial, let maximum, initial.path.dropLast() == maximum.path.dropLast() {
            throw source.error(at: blamed, "expected max_ms >= initial_ms (\(initialValue)), got \(maximumValue)")
        }
        throw source.error(at: blamed, "expected max_ms >= initial_ms, but max_ms \(maximumValue) (\(origin(maximum?.path))) "
            + "< initial_ms \(initialValue) (\(origin(initial?.path)))")
    }
}
