extension GatePolicy {
    /// The keys each gate accepts, in the order the usage lists them.
    public static let keys: [GateName: [String]] = [
        .record: ["on_violation", "max_future_s"],
        .batch: ["on_violation", "max_drop_rate", "label_rate_min", "label_rate_max", "min_records",
                 "max_psi", "psi_bins", "reference_records"],
        .transport: [],
        .warehouse: ["on_violation"],
        .poisonPill: ["on_violation"],
    ]

    /// The policy given by the values of the repeatable option `--gate GATE.KEY=VALUE`
    /// (e.g. `batch.max_psi=0.3`), every key not given keeping its default.
    ///
    /// Each key may be given once: a second value for the same key is more likely a mistake in
    /// the policy than an intended override, and an integrity setting must not change silently.
    /// - Throws: `WorkerUsageError`, one line naming the value and what was expected, e.g.
    ///   `--gate 'batch.psi_bins=1': batch.psi_bins expects an integer in 2...100, got '1'`;
    ///   the caller adds the role and exits 2.
    public static func parse(_ values: [String]) throws(WorkerUsageError) -> GatePolicy {
        var policy = GatePolicy()
        var given = Set<String>()
        for text in values {
            func fail(_ why: String) -> WorkerUsageError {
                WorkerUsageError(description: "--gate '\(text)': \(why)")
            }
            guard let equals = text.firstIndex(of: "="), let dot = text[..<equals].firstIndex(of: ".") else {
                throw fail("expected GATE.KEY=VALUE, e.g. batch.max_psi=0.25")
            }
            let gateText = String(text[..<dot])
            let key = String(text[text.index(after: dot)..<equals])
            let value = String(text[text.index(after: equals)...])
            guard let gate = GateName(rawValue: gateText) else {
                throw fail("unknown gate '\(gateText)' (expected one of "
                    + GateName.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            let allowed = keys[gate] ?? []
            guard !allowed.isEmpty else {
                throw fail("gate \(gate) has no settings: every frame's checksum and sequence are always checked, "
                    + "a bad frame is never applied and is sent again")
            }
            guard allowed.contains(key) else {
                throw fail("unknown key '\(key)' for gate \(gate) (expected " + allowed.joined(separator: ", ") + ")")
            }
            let name = "\(gate).\(key)"
            guard given.insert(name).inserted else { throw fail("\(name) is given twice") }

            func expecting(_ what: String) -> WorkerUsageError {
                fail("\(name) expects \(what), got '\(value)'")
            }
            func action() throws(WorkerUsageError) -> ViolationAction {
                guard let action = ViolationAction(rawValue: value) else {
                    throw expecting(ViolationAction.allCases.map(\.rawValue).joined(separator: " or "))
                }
                return action
            }
            func rate() throws(WorkerUsageError) -> Double {
                guard let rate = Double(value), rate.isFinite, (0...1).contains(rate) else { throw expecting("a rate in 0...1") }
                return rate
            }
            func integer(_ range: ClosedRange<Int>) throws(WorkerUsageError) -> Int {
                guard let number = Int(value), range.contains(number) else {
                    throw expecting("an integer in \(range.lowerBound)...\(range.upperBound)")
                }
                return number
            }

            switch (gate, key) {
            case (.record, "on_violation"): policy.record.onViolation = try action()
            case (.record, "max_future_s"):
                guard let seconds = Int64(value), maxFutureSecondsRange.contains(seconds) else {
                    throw expecting("whole seconds in 0...\(maxFutureSecondsRange.upperBound)")
                }
                policy.record.maxFutureSeconds = seconds
            case (.batch, "on_violation"): policy.batch.onViolation = try action()
            case (.batch, "max_drop_rate"): policy.batch.maxDropRate = try rate()
            case (.batch, "label_rate_min"): policy.batch.labelRateMin = try rate()
            case (.batch, "label_rate_max"): policy.batch.labelRateMax = try rate()
            case (.batch, "min_records"): policy.batch.minRecords = try integer(minRecordsRange)
            case (.batch, "max_psi"):
                guard let psi = Double(value), psi.isFinite, psi > 0 else { throw expecting("a finite number > 0") }
                policy.batch.maxPSI = psi
            case (.batch, "psi_bins"): policy.batch.psiBins = try integer(psiBinsRange)
            case (.batch, "reference_records"): policy.batch.referenceRecords = try integer(referenceRecordsRange)
            case (.warehouse, _): policy.warehouse = try action()
            case (.poisonPill, _): policy.poisonPill = try action()
            default: preconditionFailure("key \(name) is listed in GatePolicy.keys but not parsed")
            }
        }
        // Each value is in range by now; what is left is the label band's order.
        try policy.validate()
        return policy
    }
}
