import Pipeline
import Testing
import Wire

@Suite struct RelayTests {
    static func output(_ id: UInt64) -> DataMessage { SentBatchesTests.batch(id) }

    @Test func admittedBatchesAreSentOnAndKeptUntilAcknowledged() {
        var relay = Relay(resumingAfter: 2, window: 2)
        #expect(relay.admit(3).0 == .apply)
        #expect(relay.processed(3, into: Self.output(3)) == .init(downstream: [Self.output(3)]))
        #expect(relay.admit(4).0 == .apply)
        _ = relay.processed(4, into: Self.output(4))
        #expect(!relay.acceptsInput, "a full window reads nothing more")
        #expect(relay.acknowledged(3) == .init(upstream: [.ack(3)]), "the acknowledgement goes on upstream")
        #expect(relay.acceptsInput && relay.committed == 3)
        #expect(relay.window.entries.map(\.batchID) == [4])
    }

    @Test func duplicatesAndGapsAnswerUpstream() {
        var relay = Relay(resumingAfter: 0, window: 8)
        _ = relay.admit(1)
        _ = relay.processed(1, into: Self.output(1))
        _ = relay.acknowledged(1)
        #expect(relay.admit(1) == (.acknowledgeAgain, .init(upstream: [.ack(1)])))
        #expect(relay.admit(3) == (.requestResend, .init(upstream: [.resend])))
        #expect(relay.admit(4) == (.dropAhead, .init()))
    }

    @Test func aRestartedDownstreamGetsTheWindowAgainAndTheEndOnlyOncePassedOn() {
        var relay = Relay(resumingAfter: 0, window: 8)
        let end = EndOfStream(lastBatchID: 2, records: 20)
        relay.streamEnded(end)
        #expect(relay.endToForward() == .init(), "not before batch 2 is processed")
        for id: UInt64 in 1...2 {
            _ = relay.admit(id)
            _ = relay.processed(id, into: Self.output(id))
        }
        #expect(relay.resendRequested() == .init(downstream: [Self.output(1), Self.output(2)]))
        #expect(relay.endToForward() == .init(downstream: [.end(end)]))
        #expect(relay.endToForward() == .init(), "passed on once")
        #expect(relay.resendRequested() == .init(downstream: [Self.output(1), Self.output(2), .end(end)]))
        let newer = EndOfStream(lastBatchID: 2, records: 7)
        relay.streamEnded(newer)
        #expect(relay.resendRequested().downstream.last == .end(newer), "a re-send repeats the end last received")
    }

    @Test func aHaltingBatchStopsInputAndTheHaltIsDueOnceItIsCommitted() {
        var relay = Relay(resumingAfter: 0, window: 8)
        relay.streamEnded(EndOfStream(lastBatchID: 2, records: 2))
        _ = relay.admit(1)
        _ = relay.processed(1, into: Self.output(1))
        _ = relay.admit(2)
        _ = relay.processed(2, into: Self.output(2), haltMessage: "gate 'record' quarantined batch 2: bad")
        #expect(relay.isHalting && !relay.acceptsInput)
        #expect(relay.endToForward() == .init(), "no end is passed on past a halt")
        #expect(relay.haltDue == nil)
        _ = relay.acknowledged(1)
        #expect(relay.haltDue == nil)
        _ = relay.acknowledged(2)
        #expect(relay.haltDue?.batchID == 2)
        #expect(relay.haltDue?.message == "gate 'record' quarantined batch 2: bad")
    }

    @Test func thePoisonPillIsAdmittedForQuarantine() {
        var relay = Relay(resumingAfter: 4, window: 8, poisonPill: PoisonPill(item: "batch 5", evidence: "e"))
        #expect(relay.admit(5).0 == .quarantinePoisonPill(evidence: "e"))
        _ = relay.processed(5, into: Self.output(5))
        #expect(relay.lastProcessed == 5)
    }
}
