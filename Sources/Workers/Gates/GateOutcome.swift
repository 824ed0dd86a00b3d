/// The verdict of `GatedTransformer.process(_:now:)` on one batch.
public enum GateOutcome: Equatable, Sendable {
    /// Every gate passed: the transformed batch (its `rejected` list is empty) and what was measured.
    case passed(TransformOutcome)
    /// A gate failed: the batch is quarantined whole and the transformer's state is unchanged.
    case violated(GateViolation)
}
