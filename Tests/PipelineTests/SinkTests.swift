import Pipeline
import Testing

@Suite struct SinkTests {
    @Test func theFirstCommitsAfterAStartHoldOneBatchThenGroupsGrow() {
        var sink = Sink(resumingAfter: 0)
        for id in 1...UInt64(Sink.singleCommitsAfterStart) {
            #expect(sink.hasRoom)
            #expect(sink.admit(id) == (.apply, []))
            #expect(!sink.hasRoom, "one batch per commit after a start")
            #expect(sink.committed(through: id) == [.ack(id)])
        }
        for id in UInt64(Sink.singleCommitsAfterStart + 1)...20 { #expect(sink.admit(id).0 == .apply) }
        #expect(sink.hasRoom)
        #expect(sink.committed(through: 20) == [.ack(20)], "one cumulative acknowledgement for the group")
        #expect(sink.committed == 20)
    }

    @Test func committedBatchesAreAcknowledgedAgainAndGapsAskForAResend() {
        var sink = Sink(resumingAfter: 5)
        #expect(sink.admit(5) == (.acknowledgeAgain, [.ack(5)]))
        #expect(sink.admit(7) == (.requestResend, [.resend]))
        #expect(sink.admit(8) == (.dropAhead, []))
        #expect(sink.admit(6) == (.apply, []))
        #expect(sink.admit(6) == (.dropDuplicate, []))
    }

    @Test func theStreamIsLoadedOnceEverythingUpToItsEndIsCommitted() {
        var sink = Sink(resumingAfter: 0)
        #expect(sink.streamLoadedNow() == nil)
        let end = EndOfStream(lastBatchID: 1, records: 3)
        sink.streamEnded(end)
        #expect(sink.streamLoadedNow() == nil)
        _ = sink.admit(1)
        _ = sink.committed(through: 1)
        #expect(sink.streamLoadedNow() == end)
        #expect(sink.streamLoadedNow() == nil, "reported once")
        var empty = Sink(resumingAfter: 4)
        empty.streamEnded(EndOfStream(lastBatchID: 4, records: 0))
        #expect(empty.streamLoadedNow() != nil, "an end at the checkpoint is loaded at once")
    }

    @Test func thePoisonPillIsSubstitutedInItsGroup() {
        var sink = Sink(resumingAfter: 2, poisonPill: PoisonPill(item: "batch 3", evidence: "crashed"))
        #expect(sink.admit(3) == (.quarantinePoisonPill(evidence: "crashed"), []))
        #expect(!sink.hasRoom)
    }
}
