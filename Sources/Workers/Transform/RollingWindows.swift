import Pipeline
import Wire

/// Per pump, the last up to three vibration and pressure values in timestamp order and the
/// running sums behind their means, and the rest of the last record (flow rate, temperature,
/// label), against which a repeat of it in a later batch is compared: the transformer's state,
/// persisted after every batch.
///
/// `apply(to:)` gives exactly pandas'
/// `df.sort_values(['pump_id', 'timestamp']).groupby('pump_id')[col].rolling(3, min_periods=1).mean()`
/// for a pump whose records arrive in increasing timestamp order (see `RollingMean` for the
/// numerics). Equality is by content: the same pumps with bit-identical state, whatever order
/// they were first seen in.
public struct RollingWindows: Equatable, Sendable {
    /// The fields of a pump's last record that its windows do not hold (they hold its timestamp,
    /// vibration and pressure).
    public struct LastFields: Equatable, Sendable {
        public var flowRate: Double
        public var temperature: Double
        public var failure: UInt8
    }

    /// One pump's state.
    struct PumpWindow: Equatable, Sendable {
        /// The timestamp of the last record applied.
        var lastTimestamp: Int64
        var vibration = RollingMean()
        var pressure = RollingMean()
        /// Nil when restored from a checkpoint of format 1, which did not keep them, until the
        /// pump's next record.
        var lastFields: LastFields?
    }

    /// Pump ids by slot, in first-seen order (slots never move, so callers may cache them).
    private(set) var pumpIDs: [String] = []
    /// Windows by slot.
    private(set) var pumps: [PumpWindow] = []
    /// Slot by pump id.
    private var slotByPumpID: [String: Int] = [:]

    /// No pump seen yet.
    public init() {}

    /// The pumps seen, sorted by id.
    public var sortedPumpIDs: [String] {
        pumpIDs.sorted(by: Self.precedes)
    }

    /// The timestamp of the last record applied for `pumpID`, or nil for a pump not seen yet.
    public func lastTimestamp(of pumpID: String) -> Int64? {
        slotByPumpID[pumpID].map { pumps[$0].lastTimestamp }
    }

    /// Appends the record's vibration and pressure to its pump's windows and sets its
    /// `vibrationRollingMean` and `pressureRollingMean` to the windows' means.
    /// - Precondition: the record is later than the last one applied for its pump
    ///   (`GatedTransformer` rejects the others before they get here), and its pump id is
    ///   1…255 UTF-8 bytes (as every id matching the pump id pattern is).
    public mutating func apply(to record: inout TelemetryRecord) {
        precondition((1...255).contains(record.pumpID.utf8.count), "pump id of \(record.pumpID.utf8.count) bytes")
        let slot = slot(for: record.pumpID, firstTimestamp: record.timestamp)
        apply(to: &record, slot: slot)
    }

    /// The slot of `pumpID`, made (with empty windows) if the pump is new.
    mutating func slot(for pumpID: String, firstTimestamp: Int64) -> Int {
        if let slot = slotByPumpID[pumpID] { return slot }
        return insert(pumpID, PumpWindow(lastTimestamp: firstTimestamp))
    }

    /// Whether a record at `timestamp` may follow what slot `slot` has seen.
    func isAfterLast(_ timestamp: Int64, slot: Int) -> Bool {
        pumps[slot].count == 0 || timestamp > pumps[slot].lastTimestamp
    }

    /// The last timestamp applied at slot `slot`.
    func lastTimestamp(slot: Int) -> Int64 {
        pumps[slot].lastTimestamp
    }

    /// What is remembered of the last record applied at slot `slot` besides its timestamp (nil
    /// for an empty window): its vibration and pressure, and its other fields when known.
    func lastRecord(slot: Int) -> (vibration: Double, pressure: Double, fields: LastFields?)? {
        guard let vibration = pumps[slot].vibration.window.last, let pressure = pumps[slot].pressure.window.last else {
            return nil
        }
        return (vibration, pressure, pumps[slot].lastFields)
    }

    /// `apply(to:)` with the pump's slot already known.
    mutating func apply(to record: inout TelemetryRecord, slot: Int) {
        precondition(isAfterLast(record.timestamp, slot: slot),
                     "pump \(record.pumpID): timestamp \(record.timestamp) not after \(pumps[slot].lastTimestamp)")
        pumps[slot].lastTimestamp = record.timestamp
        pumps[slot].lastFields = LastFields(flowRate: record.flowRate, temperature: record.temperature, failure: record.failure)
        record.vibrationRollingMean = pumps[slot].vibration.append(record.vibration)
        record.pressureRollingMean = pumps[slot].pressure.append(record.pressure)
    }

    /// Restores what was kept of the last record at slot `slot` (decoding).
    mutating func setLastFields(_ fields: LastFields, slot: Int) {
        pumps[slot].lastFields = fields
    }

    /// Adds a pump; the caller has checked it is new.
    @discardableResult
    mutating func insert(_ pumpID: String, _ window: PumpWindow) -> Int {
        let slot = pumps.count
        pumpIDs.append(pumpID)
        pumps.append(window)
        slotByPumpID[pumpID] = slot
        return slot
    }

    /// The window of `pumpID`; nil for a pump not seen yet.
    func window(of pumpID: String) -> PumpWindow? {
        slotByPumpID[pumpID].map { pumps[$0] }
    }

    /// Same pumps, bit-identical state.
    public static func == (lhs: RollingWindows, rhs: RollingWindows) -> Bool {
        guard lhs.pumps.count == rhs.pumps.count else { return false }
        for (slot, pumpID) in lhs.pumpIDs.enumerated() {
            guard let other = rhs.window(of: pumpID), other == lhs.pumps[slot] else { return false }
        }
        return true
    }

    /// The order of pump ids in the encoding: by UTF-8 bytes, independent of locale and normalisation.
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

extension RollingWindows.PumpWindow {
    /// How many values the pump's windows hold (the same for both readings).
    var count: Int { vibration.count }
}
