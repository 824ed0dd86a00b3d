import Pipeline
import Testing

/// In-order admission: every case a channel brings, decided without a channel.
@Suite struct BatchSequencerTests {
    typealias Admission = BatchSequencer.Admission

    /// Admits `ids` in turn, applying each admitted batch at once (as the transformer does).
    static func run(_ sequencer: inout BatchSequencer, _ ids: [UInt64]) -> [Admission] {
        ids.map { id in
            let admission = sequencer.admit(id)
            if admission == .apply { sequencer.applied(through: id) }
            return admission
        }
    }

    @Test func batchesInOrderAreAppliedOnce() {
        var sequencer = BatchSequencer(stage: .relay, resumingAfter: 0)
        #expect(Self.run(&sequencer, [1, 2, 3]) == [.apply, .apply, .apply])
        #expect(sequencer.admitted == 3 && sequencer.committed == 0)
    }

    @Test func aDuplicateIsAcknowledgedAgainOnlyOnceCommitted() {
        var sequencer = BatchSequencer(stage: .relay, resumingAfter: 0)
        _ = Self.run(&sequencer, [1, 2, 3])
        sequencer.acknowledged(through: 2)
        #expect(Self.run(&sequencer, [1, 2, 3, 3]) == [.acknowledgeAgain, .acknowledgeAgain, .dropDuplicate, .dropDuplicate])
        #expect(sequencer.admitted == 3)
    }

    @Test func aGapAsksOnceForAResendUntilMoreIsApplied() {
        var sequencer = BatchSequencer(stage: .relay, resumingAfter: 3)
        #expect(Self.run(&sequencer, [6, 7, 9]) == [.requestResend, .dropAhead, .dropAhead])
        #expect(sequencer.isAwaitingResend)
        // The re-send comes in order: applied, and the request re-armed.
        #expect(Self.run(&sequencer, [4, 5, 6, 7]) == [.apply, .apply, .apply, .apply])
        #expect(!sequencer.isAwaitingResend)
        #expect(Self.run(&sequencer, [9, 9]) == [.requestResend, .dropAhead])
    }

    @Test func reorderedBatchesAreNeverAppliedOutOfOrder() {
        var sequencer = BatchSequencer(stage: .relay, resumingAfter: 0)
        #expect(Self.run(&sequencer, [2, 1, 3, 2]) == [.requestResend, .apply, .requestResend, .apply])
        #expect(Self.run(&sequencer, [3]) == [.apply])
    }

    @Test func aSinkAdmitsAGroupThenCommitsIt() {
        var sequencer = BatchSequencer(stage: .sink, resumingAfter: 10)
        #expect([11, 12, 12, 14].map { sequencer.admit($0) } == [.apply, .apply, .dropDuplicate, .requestResend])
        #expect(sequencer.pending == 2 && sequencer.next == 13)
        // Until the group is committed, the request is not asked again (the loader's rule).
        #expect(sequencer.admit(15) == .dropAhead)
        sequencer.applied(through: 12)
        #expect(sequencer.committed == 12 && sequencer.pending == 0 && !sequencer.isAwaitingResend)
        #expect(sequencer.admit(11) == .acknowledgeAgain)
        #expect(sequencer.admit(14) == .requestResend)
    }

    @Test func aRelayIsCommittedOnlyByAcknowledgementsWhichAreCumulative() {
        var sequencer = BatchSequencer(stage: .relay, resumingAfter: 0)
        _ = Self.run(&sequencer, [1, 2, 3])
        #expect(sequencer.committed == 0)
        sequencer.acknowledged(through: 3)
        sequencer.acknowledged(through: 1)
        #expect(sequencer.committed == 3)
    }

    @Test func theNextBatchNamedAsThePoisonPillIsQuarantinedInsteadOfApplied() {
        let pill = PoisonPill(item: "batch 5", evidence: "3 crashes in a row (SIGABRT)")
        var sequencer = BatchSequencer(stage: .sink, resumingAfter: 3, poisonPill: pill)
        #expect(sequencer.admit(5) == .requestResend, "a pill out of order is not the pill yet")
        #expect(sequencer.admit(4) == .apply)
        #expect(sequencer.admit(5) == .quarantinePoisonPill(evidence: "3 crashes in a row (SIGABRT)"))
        #expect(sequencer.admit(6) == .apply)
        sequencer.applied(through: 6)
        #expect(sequencer.admit(5) == .acknowledgeAgain, "a committed pill is acknowledged, never quarantined twice")
        let group = BatchSequencer(stage: .sink, resumingAfter: 3, poisonPill: PoisonPill(item: "batches 4…5", evidence: ""))
        var copy = group
        #expect(copy.admit(4) == .apply)
        #expect(copy.admit(5) == .apply, "a group is never a pill")
    }

    /// A restart is a new sequencer from the checkpoint, whatever the old one had admitted, at every point of a run.
    @Test(arguments: 0...6)
    func aRestartAtAnyPointResumesFromTheCheckpointWithoutLossOrRepeat(restartAfter steps: Int) {
        let arrivals: [UInt64] = [1, 2, 3, 4, 5, 6]
        var applied: [UInt64] = []
        var sequencer = BatchSequencer(stage: .sink, resumingAfter: 0)
        for id in arrivals.prefix(steps) {
            guard sequencer.admit(id) == .apply else { continue }
            sequencer.applied(through: id)
            applied.append(id)
        }
        // Killed: what it had admitted and not committed is gone; the checkpoint is what it committed.
        var restarted = BatchSequencer(stage: .sink, resumingAfter: applied.last ?? 0)
        #expect(BatchSequencer.startRequest == .resend)
        // The sender re-sends everything unacknowledged (here: everything), then the rest follows.
        for id in arrivals {
            switch restarted.admit(id) {
            case .apply: restarted.applied(through: id); applied.append(id)
            case .acknowledgeAgain: #expect(id <= UInt64(steps))
            default: Issue.record("batch \(id) after a restart at \(steps)")
            }
        }
        #expect(applied == arrivals)
    }
}
