import Pipeline
import Wire

/// The transformer's logic behind its integrity gates: judges a batch record by record, then as
/// a whole, and only if everything passes computes its rolling means and advances the state.
/// Pure and deterministic: no I/O, no clock (the caller passes `now`).
///
/// **Record gate.** A record is rejected — and its whole batch quarantined — when a reading is
/// ±∞ or outside its physical range, the pump id or failure label is not allowed, its timestamp
/// lies more than `record.max_future_s` after `now`, it is older than the pump's last accepted
/// record (`notIncreasing`), or it repeats an accepted record's pump and timestamp with other
/// values (`conflictingDuplicate`). A record missing a reading (NaN) is dropped, as pandas'
/// `dropna` would; an exact repeat of an accepted record is dropped as `duplicate`: neither is a
/// violation, both are counted.
///
/// Duplicates are recognised against every accepted record of the same batch and against the
/// pump's last accepted record of earlier batches, every field compared (the state keeps that
/// record's readings and label): a repeat that differs in any of them — flow rate, pressure,
/// vibration, temperature or label — is a `conflictingDuplicate` and fails the record gate; an
/// exact repeat is dropped and counted. (After a checkpoint written before the state kept the
/// flow rate, temperature and label, a pump's next repeat is compared on vibration and pressure
/// only.) A repeat of an older record of an earlier batch is `notIncreasing`.
///
/// **Batch gate** (after the record gate passed), each check only on a batch large enough to
/// judge (`batch.min_records`): the share of records missing a reading (of records in), the
/// failure-label rate of the valid records (inside `label_rate_min…label_rate_max`), and the PSI
/// of each reading against the reference profile (at most `max_psi`) once that profile is
/// complete. The profile is the one from before the batch; only a passed batch adds to it.
///
/// On a violation nothing of the batch enters the windows or the profile: `state` is exactly as
/// before the call, so a quarantined batch can be skipped and the next one judged as if it had
/// never come.
public struct GatedTransformer: Sendable {
    /// The validator in use.
    public let validator: RecordValidator
    /// The gates' settings.
    public let gates: GatePolicy
    /// The windows and the reference profile; persist `state.encoded()` with each committed batch.
    public private(set) var state: TransformerState
    /// Slot in `state.windows` by pump number (the digits of the id), -1 for not seen yet: finding a
    /// pump's window costs an array read, not a string hash.
    private var slotByPumpNumber: [Int32]

    /// A transformer judging by `rules` and `gates`, resuming from `state`.
    ///
    /// A reference profile still building adopts `gates`' `reference_records` and `psi_bins`: if
    /// it already holds enough records it is frozen here, cut to the first `reference_records`.
    /// A complete profile keeps the bins it was made with.
    /// - Precondition: `gates.validate()` passes (parse them with `GatePolicy.parse`).
    public init(rules: ValidationRules, gates: GatePolicy, state: TransformerState = .init()) {
        do { try gates.validate() } catch { preconditionFailure("invalid gate policy: \(error)") }
        validator = RecordValidator(rules: rules)
        self.gates = gates
        var state = state
        state.reference.collect(EmptyCollection(), target: gates.batch.referenceRecords, bins: gates.batch.psiBins)
        self.state = state
        var pumpCount = 1
        for _ in 0..<rules.pumpIDDigitCount { pumpCount *= 10 }
        slotByPumpNumber = [Int32](repeating: -1, count: pumpCount)
        // Pumps in restored state whose ids fail these rules can never be hit: their records are rejected.
        for (slot, pumpID) in state.windows.pumpIDs.enumerated() {
            if let number = rules.pumpNumber(of: pumpID) { slotByPumpNumber[number] = Int32(slot) }
        }
    }

    /// The rules in use.
    public var rules: ValidationRules { validator.rules }

    /// Judges and transforms one batch. On `.passed` the state has advanced; on `.violated` the
    /// state is exactly as before the call (the batch is quarantined whole, nothing of it enters the windows or the profile).
    /// - Parameter now: the current time in Unix seconds, for the future-timestamp check.
    public mutating func process(_ batch: RecordBatch, now: Int64) -> GateOutcome {
        // Work on a copy and keep it only if everything passes: the windows, the slot table and
        // the profile then never hold anything of a quarantined batch.
        var next = self
        let outcome = next.judge(batch, now: now)
        if case .passed = outcome { self = next }
        return outcome
    }

    /// An accepted record's identity, for finding repeats within a batch.
    private struct RecordKey: Hashable {
        var pumpID: String
        var timestamp: Int64
    }

    private mutating func judge(_ batch: RecordBatch, now: Int64) -> GateOutcome {
        let maxFuture = gates.record.maxFutureSeconds
        let (sum, overflow) = now.addingReportingOverflow(maxFuture)
        let latestAllowed = overflow ? Int64.max : sum
        var records: [TelemetryRecord] = []
        records.reserveCapacity(batch.records.count)
        var dropped: [DropReason: Int] = [:]
        var rejected: [RecordRejection] = []
        var failures = 0
        // Output index by (pump, timestamp), made the first time a record is not after its pump's
        // last (the rare path), then kept up to date.
        var acceptedByKey: [RecordKey: Int]?

        for (index, original) in batch.records.enumerated() {
            let (verdict, number) = validator.check(original)
            switch verdict {
            case .dropped(let reason):
                dropped[reason, default: 0] += 1
                continue
            case .rejected(let reason):
                rejected.append(RecordRejection(index: index, reason: reason))
                continue
            case .valid:
                break
            }
            guard original.timestamp <= latestAllowed else {
                rejected.append(RecordRejection(index: index, reason: .futureTimestamp(
                    timestamp: original.timestamp, now: now, maxFutureSeconds: maxFuture)))
                continue
            }
            var slot = Int(slotByPumpNumber[number])
            if slot < 0 {
                slot = state.windows.slot(for: original.pumpID, firstTimestamp: original.timestamp)
                slotByPumpNumber[number] = Int32(slot)
            }
            if state.windows.isAfterLast(original.timestamp, slot: slot) {
                var record = original
                state.windows.apply(to: &record, slot: slot)
                acceptedByKey?[RecordKey(pumpID: record.pumpID, timestamp: record.timestamp)] = records.count
                records.append(record)
                if record.failure != 0 { failures += 1 }
                continue
            }
            // Not after the pump's last accepted record: a repeat, or out of order.
            if acceptedByKey == nil {
                var keys: [RecordKey: Int] = [:]
                for (position, record) in records.enumerated() {
                    keys[RecordKey(pumpID: record.pumpID, timestamp: record.timestamp)] = position
                }
                acceptedByKey = keys
            }
            let key = RecordKey(pumpID: original.pumpID, timestamp: original.timestamp)
            if let earlier = acceptedByKey?[key] {
                if let difference = Self.difference(original, from: records[earlier]) {
                    rejected.append(RecordRejection(index: index, reason: .conflictingDuplicate(
                        pumpID: original.pumpID, timestamp: original.timestamp,
                        difference: difference + " accepted earlier in this batch")))
                } else {
                    dropped[.duplicate, default: 0] += 1
                }
                continue
            }
            let last = state.windows.lastTimestamp(slot: slot)
            if original.timestamp == last, let accepted = state.windows.lastRecord(slot: slot) {
                // The pump's last record came in an earlier batch: compared on everything the state kept of it.
                if let difference = Self.difference(original, from: accepted) {
                    rejected.append(RecordRejection(index: index, reason: .conflictingDuplicate(
                        pumpID: original.pumpID, timestamp: original.timestamp,
                        difference: difference + " accepted in an earlier batch")))
                } else {
                    dropped[.duplicate, default: 0] += 1
                }
                continue
            }
            rejected.append(RecordRejection(index: index, reason: .notIncreasing(
                pumpID: original.pumpID, timestamp: original.timestamp, last: last)))
        }

        let droppedCount = dropped.values.reduce(0, +)
        if let first = rejected.first {
            let record = batch.records[first.index]
            var reason = "record \(first.index) (pump \(record.pumpID) at \(UTCTimestamp.text(record.timestamp))): \(first.reason)"
            let more = rejected.count - 1
            if more > 0 { reason += "; \(more) more record\(more == 1 ? "" : "s") rejected" }
            return .violated(GateViolation(gate: .record, action: gates.record.onViolation, reason: reason,
                                           dropped: droppedCount, rejected: rejected))
        }

        let duplicates = dropped[.duplicate] ?? 0
        var measurements = BatchMeasurements(
            recordsIn: batch.records.count, missing: droppedCount - duplicates, duplicates: duplicates,
            valid: records.count, failures: failures)
        let problems = judgeBatch(records, measurements: &measurements)
        if !problems.isEmpty {
            return .violated(GateViolation(gate: .batch, action: gates.batch.onViolation,
                                           reason: problems.joined(separator: "; "),
                                           dropped: droppedCount, measurements: measurements))
        }
        // Passed: its valid records extend the reference profile until it is complete.
        state.reference.collect(records, target: gates.batch.referenceRecords, bins: gates.batch.psiBins)
        return .passed(TransformOutcome(
            output: RecordBatch(batchID: batch.batchID, position: batch.position, records: records),
            dropped: dropped, measurements: measurements))
    }

    /// The batch gate's failed checks, one phrase each; fills in the PSI and what was not judged.
    private func judgeBatch(_ records: [TelemetryRecord], measurements: inout BatchMeasurements) -> [String] {
        let policy = gates.batch
        var problems: [String] = []
        if measurements.recordsIn >= policy.minRecords {
            let rate = measurements.dropRate
            if rate > policy.maxDropRate {
                let (shown, limit) = Self.contrast(rate, policy.maxDropRate)
                problems.append("drop rate \(shown) > \(limit) (\(measurements.missing) of \(measurements.recordsIn) records missing a reading)")
            }
        } else {
            measurements.notJudged.append("drop rate not judged: \(measurements.recordsIn) records in, fewer than \(policy.minRecords)")
        }
        guard measurements.valid >= policy.minRecords else {
            measurements.notJudged.append(
                "failure-label rate and drift not judged: \(measurements.valid) valid records, fewer than \(policy.minRecords)")
            return problems
        }
        let rate = measurements.labelRate ?? 0
        if rate < policy.labelRateMin || rate > policy.labelRateMax {
            let places = Self.places(toTell: rate, from: rate < policy.labelRateMin ? policy.labelRateMin : policy.labelRateMax)
            let show = { (value: Double) in places.map { Self.decimal(value, places: $0) } ?? "\(value)" }
            problems.append("failure-label rate \(show(rate)) outside \(show(policy.labelRateMin))…\(show(policy.labelRateMax)) "
                + "over \(measurements.valid) records")
        }
        guard state.reference.isComplete else {
            measurements.notJudged.append("drift not judged: reference profile has \(state.reference.recordCount) "
                + "of \(policy.referenceRecords) records")
            return problems
        }
        for reading in ReferenceProfile.readings {
            let bins = state.reference.bins(of: reading)!
            measurements.psi[reading] = bins.populationStabilityIndex(of: records.lazy.map { reading.value(in: $0) })
        }
        let drifted = ReferenceProfile.readings.compactMap { reading -> (Reading, Double)? in
            let psi = measurements.psi[reading]!
            return psi > policy.maxPSI ? (reading, psi) : nil
        }.sorted { $0.1 > $1.1 }
        if !drifted.isEmpty {
            let limit = Self.contrast(drifted.last!.1, policy.maxPSI).1
            let each = drifted.map { reading, psi in "\(reading) PSI \(Self.contrast(psi, policy.maxPSI).0)" }
            problems.append("drift: " + each.joined(separator: ", ") + " > \(limit)")
        }
        return problems
    }

    /// The first field in which `record` differs from `accepted`, as `pressure 5.1 vs 5.0`; nil if identical.
    private static func difference(_ record: TelemetryRecord, from accepted: TelemetryRecord) -> String? {
        for reading in Reading.allCases {
            let value = reading.value(in: record)
            let other = reading.value(in: accepted)
            if value.bitPattern != other.bitPattern { return "\(reading) \(value) vs \(other)" }
        }
        if record.failure != accepted.failure { return "failure \(record.failure) vs \(accepted.failure)" }
        return nil
    }

    /// The first field in which `record` differs from a pump's last record of an earlier batch, as
    /// the state keeps it (in the order of the other `difference`); the fields it does not know
    /// (after a format-1 checkpoint) are not compared. Nil if identical.
    private static func difference(
        _ record: TelemetryRecord, from accepted: (vibration: Double, pressure: Double, fields: RollingWindows.LastFields?)
    ) -> String? {
        for reading in Reading.allCases {
            let other: Double?
            switch reading {
            case .flowRate: other = accepted.fields?.flowRate
            case .pressure: other = accepted.pressure
            case .vibration: other = accepted.vibration
            case .temperature: other = accepted.fields?.temperature
            }
            let value = reading.value(in: record)
            if let other, value.bitPattern != other.bitPattern { return "\(reading) \(value) vs \(other)" }
        }
        if let failure = accepted.fields?.failure, record.failure != failure { return "failure \(record.failure) vs \(failure)" }
        return nil
    }

    /// `value` and `threshold` with two decimals, or with as many more as it takes to tell them apart.
    static func contrast(_ value: Double, _ threshold: Double) -> (String, String) {
        guard let places = places(toTell: value, from: threshold) else { return ("\(value)", "\(threshold)") }
        return (decimal(value, places: places), decimal(threshold, places: places))
    }

    /// The fewest decimals, 2…6, that show `value` and `threshold` apart (2 when they are equal); nil if none do.
    static func places(toTell value: Double, from threshold: Double) -> Int? {
        (2...6).first { value == threshold || decimal(value, places: $0) != decimal(threshold, places: $0) }
    }

    /// `value` rounded to `places` decimals (half away from zero), e.g. `0.10`.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled < 1e15 else { return "\(value)" }
        let units = Int64(scaled)
        let whole = units / Int64(scale)
        let fraction = String(units % Int64(scale))
        let sign = value < 0 && units != 0 ? "-" : ""
        return "\(sign)\(whole)." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}
