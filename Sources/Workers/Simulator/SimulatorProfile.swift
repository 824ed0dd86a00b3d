/// Which telemetry the simulator generates.
///
/// - `original`: the original's distributions (DESIGN.md "Data contract"): failures 4–6 σ from
///   normal readings, so any model separates them perfectly. The default.
/// - `realistic`: failures a noisy function of the readings, driven by latent per-pump wear that
///   builds up over a maintenance cycle, with slow sensor drift and occasional missing readings
///   (`TelemetryGenerator+Realistic.swift`): a good model scores well below ROC-AUC 1.0.
public enum SimulatorProfile: String, CaseIterable, Equatable, Sendable {
    case original
    case realistic

    /// The profile named `text`, or nil.
    public init?(parsing text: String) {
        self.init(rawValue: text)
    }

    /// The names `--profile` / `--sim-profile` accept, for errors.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
