import Testing
@testable import Workers

@Suite struct PromotionGuardTests {
    func metrics(auc: Double, f1: Double) -> ModelMetrics {
        ModelMetrics(rocAUC: auc, precision: 0.9, recall: 0.9, f1: f1, truePositives: 90, falsePositives: 10,
                     trueNegatives: 1890, falseNegatives: 10, trainRows: 8000, testRows: 2000)
    }

    @Test func theFirstModelIsPromoted() {
        #expect(PromotionGuard(margin: 0.01).verdict(candidate: metrics(auc: 0.7, f1: 0.5), serving: nil) == .promote)
    }

    @Test func aModelWithinTheMarginIsPromoted() {
        let guardrail = PromotionGuard(margin: 0.01)
        #expect(guardrail.verdict(candidate: metrics(auc: 0.991, f1: 0.90), serving: metrics(auc: 0.999, f1: 0.905)) == .promote)
        #expect(guardrail.verdict(candidate: metrics(auc: 1.0, f1: 1.0), serving: metrics(auc: 0.9, f1: 0.8)) == .promote)
    }

    @Test func aModelWhoseMetricsDropBeyondTheMarginIsRejectedWithTheReason() {
        let guardrail = PromotionGuard(margin: 0.01)
        let auc = guardrail.verdict(candidate: metrics(auc: 0.95, f1: 0.9), serving: metrics(auc: 0.999, f1: 0.9), servingVersion: 3)
        #expect(auc == .reject(reason: "holdout ROC-AUC 0.9500 is 0.0490 below the serving model's 0.9990 (version 3); the promotion margin is 0.0100"))
        let f1 = guardrail.verdict(candidate: metrics(auc: 0.999, f1: 0.7), serving: metrics(auc: 0.999, f1: 0.9))
        guard case .reject(let reason) = f1 else { Issue.record("a drop of F1 by 0.2 was promoted"); return }
        #expect(reason.hasPrefix("holdout F1 0.7000 is 0.2000 below"))
    }

    @Test func anUndefinedAUCIsRejected() {
        #expect(PromotionGuard().verdict(candidate: metrics(auc: .nan, f1: 0), serving: nil)
            == .reject(reason: "holdout ROC-AUC is undefined (the holdout set has a single class)"))
    }
}
