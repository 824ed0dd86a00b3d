import Posix
/// A model's predictions for the rows it was given, for `Warehouse.publish`: row `i` of `data`
/// (timestamp, pump, the four readings) with `riskScores[i]` and `predicted[i]`.
public struct Predictions: Sendable {
    /// The rows predicted on, usually `Warehouse.trainingData()` itself; the first four of its
    /// columns (flow rate, pressure, vibration, temperature) are stored with each prediction.
    public var data: TrainingData
    /// The probability of failure of each row, 0…1.
    public var riskScores: [Double]
    /// The predicted failure flag of each row, 0 or 1.
    public var predicted: [UInt8]

    /// Predictions with every field given.
    public init(data: TrainingData, riskScores: [Double], predicted: [UInt8]) {
        self.data = data
        self.riskScores = riskScores
        self.predicted = predicted
    }
}

extension Warehouse {
    /// The trainer's one transaction: records `model` in `ml_models` and, if it is serving,
    /// retires the model serving before it and replaces every row of `ai_telemetry_predictions`
    /// with `predictions` (`ai_risk_score_percent` is the risk ×100 rounded to two decimals,
    /// `model_version` the new version).
    ///
    /// One `BEGIN IMMEDIATE` transaction, so another connection sees the whole old table or the
    /// whole new one, never a mix, and a failure anywhere leaves both tables as they were. A
    /// rejected model is only recorded; the predictions, if given, are ignored and the table is
    /// left as it is. While another connection holds the write lock, retries like `commit`,
    /// calling `onBlocked` with the time waited before each pause.
    /// - Returns: the new model's version.
    /// - Throws: `WarehouseError`: `.invalidModel` or `.invalidPredictions` (a serving model
    ///   without predictions, arrays of different lengths, a risk outside 0…1, a flag not 0 or 1,
    ///   a timestamp outside years 0–9999) before touching the database; `.locked` past the
    ///   lock policy's deadline; `.database` (e.g. two predictions for one pump and timestamp)
    ///   after a rollback.
    public func publish(
        model: NewModel, predictions: Predictions? = nil, onBlocked: (_ waited: Duration) -> Void = { _ in }
    ) throws(WarehouseError) -> Int64 {
        let metrics = try validate(model)
        let serving = model.status == .serving
        if serving {
            guard let predictions else {
                throw WarehouseError(.invalidPredictions("a serving model needs its predictions"), path: path)
            }
            try validate(predictions)
        }
        return try retryingWhileLocked(onBlocked: onBlocked) { () throws(WarehouseError) -> Int64 in
            try db.transaction(.immediate, wrapping: { WarehouseError($0, path: path) }) {
                () throws(WarehouseError) -> Int64 in
                try Self.sqlite(path) { () throws(DatabaseError) -> Int64 in
                    // Before the insert: the partial unique index admits one serving model.
                    if serving { try db.execute("UPDATE ml_models SET status = 'retired' WHERE status = 'serving'") }
                    let version = try insert(model, metrics: metrics)
                    if serving, let predictions {
                        try db.execute("DELETE FROM ai_telemetry_predictions")
                        try insert(predictions, version: version)
                    }
                    return version
                }
            }
        }
    }

    /// Records a model judged not good enough to serve: `publish` of it with status `.rejected`
    /// and `reason`; the predictions table is left as it is.
    /// - Returns: its version.
    /// - Throws: as `publish`.
    public func recordRejected(
        _ model: NewModel, reason: String, onBlocked: (_ waited: Duration) -> Void = { _ in }
    ) throws(WarehouseError) -> Int64 {
        var model = model
        model.status = .rejected
        model.reason = reason
        return try publish(model: model, onBlocked: onBlocked)
    }

    /// Inserts the registry row. - Returns: the version assigned.
    private func insert(_ model: NewModel, metrics: String) throws(DatabaseError) -> Int64 {
        let insert = try db.prepare("""
            INSERT INTO ml_models (created_at, status, reason, parameters, metrics, row_count, data_fingerprint,
                watermark_batch, model)
            VALUES (datetime('now'), ?, ?, ?, ?, ?, ?, ?, ?) RETURNING version
            """)
        try insert.bind(model.status.rawValue, at: 1)
        if let reason = model.reason { try insert.bind(reason, at: 2) } else { try insert.bindNull(at: 2) }
        try insert.bind(model.parameters, at: 3)
        try insert.bind(metrics, at: 4)
        try insert.bind(model.rowCount, at: 5)
        try insert.bind(model.dataFingerprint, at: 6)
        try insert.bind(Int64(model.watermarkBatch), at: 7)
        try insert.bind(blob: model.model, at: 8)
        _ = try insert.step()
        let version = insert.int64(at: 0)
        try insert.execute()
        return version
    }

    /// Inserts every prediction with one statement, reused; the timestamp text goes through one
    /// buffer, so nothing is allocated per row.
    private func insert(_ predictions: Predictions, version: Int64) throws(DatabaseError) {
        let insert = try db.prepare("""
            INSERT INTO ai_telemetry_predictions (timestamp, pump_id, flow_rate, pressure, vibration, temperature,
                ai_risk_score_percent, ai_predicted_failure, model_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let text = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: UTCTimestamp.textLength)
        defer { text.deallocate() }
        let data = predictions.data
        let (flowRate, pressure, vibration, temperature) = (data.columns[0], data.columns[1], data.columns[2], data.columns[3])
        // Bindings survive the reset after each row: the version is bound once.
        try insert.bind(version, at: 9)
        for row in 0..<data.count {
            // `validate` checked the timestamp's range and the pump index.
            UTCTimestamp.write(data.timestamps[row], into: text)
            try insert.bind(utf8: UnsafeBufferPointer(text), at: 1)
            try insert.bind(data.pumps[Int(data.pumpIndices[row])], at: 2)
            try insert.bind(flowRate[row], at: 3)
            try insert.bind(pressure[row], at: 4)
            try insert.bind(vibration[row], at: 5)
            try insert.bind(temperature[row], at: 6)
            try insert.bind(Self.riskPercent(predictions.riskScores[row]), at: 7)
            try insert.bind(Int64(predictions.predicted[row]), at: 8)
            try insert.execute()
        }
    }

    /// A probability 0…1 as the percentage the table stores: ×100, rounded to two decimals
    /// (half away from zero).
    static func riskPercent(_ probability: Double) -> Double {
        (probability * 10_000).rounded() / 100
    }

    /// Refuses, before any SQL, predictions the table must not hold.
    private func validate(_ predictions: Predictions) throws(WarehouseError) {
        func refuse(_ why: String) -> WarehouseError { WarehouseError(.invalidPredictions(why), path: path) }
        let data = predictions.data
        let rows = data.count
        guard data.columns.count >= 4 else {
            throw refuse("\(data.columns.count) feature columns; the first four are stored")
        }
        var lengths = [
            ("pump indices", data.pumpIndices.count), ("risk scores", predictions.riskScores.count),
            ("predicted flags", predictions.predicted.count),
        ]
        for (name, column) in zip(TrainingData.featureNames, data.columns.prefix(4)) { lengths.append((name, column.count)) }
        for (name, count) in lengths where count != rows { throw refuse("\(rows) timestamps but \(count) \(name)") }
        for row in 0..<rows {
            let pumpIndex = Int(data.pumpIndices[row])
            func refuseRow(_ why: String) -> WarehouseError {
                let pump = data.pumps.indices.contains(pumpIndex) ? data.pumps[pumpIndex] : "pump #\(pumpIndex)"
                return refuse("row \(row) (\(pump) at \(data.timestamps[row])): \(why)")
            }
            guard data.pumps.indices.contains(pumpIndex) else { throw refuseRow("no such pump among \(data.pumps.count)") }
            guard UTCTimestamp.isRepresentable(data.timestamps[row]) else { throw refuseRow("timestamp outside years 0000-9999") }
            let risk = predictions.riskScores[row]
            guard risk >= 0, risk <= 1 else { throw refuseRow("risk \(risk) outside 0...1") }
            let flag = predictions.predicted[row]
            guard flag <= 1 else { throw refuseRow("predicted flag \(flag), expected 0 or 1") }
        }
    }

    /// Runs `attempt` (one whole transaction) until it is not refused for a lock: between
    /// attempts, `onBlocked(waited)` then the lock policy's backoff; past its deadline, `.locked`.
    /// - Throws: `.locked`, or the first error of `attempt` that is not a lock.
    func retryingWhileLocked<T>(
        onBlocked: (_ waited: Duration) -> Void, _ attempt: () throws(WarehouseError) -> T
    ) throws(WarehouseError) -> T {
        let clock = ContinuousClock()
        let start = clock.now
        var attempts = 0
        while true {
            do {
                return try attempt()
            } catch where error.isBusy {
                attempts += 1
                let waited = start.duration(to: clock.now)
                guard waited < lockPolicy.deadline else {
                    throw WarehouseError(.locked(waited: waited, deadline: lockPolicy.deadline), path: path)
                }
                onBlocked(waited)
                Posix.sleep(for: min(lockPolicy.backoff(afterAttempt: attempts), lockPolicy.deadline - waited))
            }
        }
    }
}
