import Pipeline
import Wire

extension TelemetryGenerator {
    /// Record `index` as the simulator serves it under `faults` when it is poisoned (an impossible
    /// reading or a flipped label), or nil when it is served clean of poison. For checks from
    /// outside the simulator (`cidp drill corruption`): the decision is the simulator's own.
    public func poisonedRecord(at index: Int, faults: SimulatorFaults) -> TelemetryRecord? {
        let served = servedRecord(at: index, faults: faults)
        return served.poison == nil ? nil : served.record
    }
}
