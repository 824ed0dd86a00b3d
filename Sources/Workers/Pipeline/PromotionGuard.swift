/// Whether a newly trained model may replace the serving one: only if its holdout metrics are
/// not worse than the serving model's by more than `margin` (ROC-AUC and F1 each). Otherwise
/// it is kept in the registry as `rejected`, with the reason, and the predictions stay those of
/// the serving model. (The integrity gates of issue #5 add: only if its data passed them.)
public struct PromotionGuard: Equatable, Sendable {
    public enum Verdict: Equatable, Sendable {
        case promote
        case reject(reason: String)
    }

    /// The largest drop in ROC-AUC or F1 tolerated (absolute, 0…1).
    public var margin: Double

    public init(margin: Double = 0.01) {
        self.margin = margin
    }

    /// The verdict on `candidate` against the serving model's metrics (nil: nothing serving yet).
    public func verdict(candidate: ModelMetrics, serving: ModelMetrics?, servingVersion: Int64? = nil) -> Verdict {
        guard candidate.rocAUC.isFinite else {
            return .reject(reason: "holdout ROC-AUC is undefined (the holdout set has a single class)")
        }
        guard let serving else { return .promote }
        let version = servingVersion.map { " (version \($0))" } ?? ""
        for (name, new, old) in [("ROC-AUC", candidate.rocAUC, serving.rocAUC), ("F1", candidate.f1, serving.f1)]
        where old.isFinite && new < old - margin {
            return .reject(reason: "holdout \(name) \(Self.format(new)) is \(Self.format(old - new)) below the serving "
                + "model's \(Self.format(old))\(version); the promotion margin is \(Self.format(margin))")
        }
        return .promote
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 10_000).rounded() / 10_000
        var text = "\(scaled)"
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if decimals < 4 { text += String(repeating: "0", count: 4 - decimals) }
        }
        return text
    }
}
