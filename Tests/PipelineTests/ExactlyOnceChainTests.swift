import Pipeline
import Testing

@Suite struct ExactlyOnceChainTests {
    @Test func aQuietChainCommitsEveryBatchOnce() {
        var chain = ChainModel(total: 30, window: 4)
        chain.settle()
        chain.expectExactlyOnce("no faults")
    }

    /// Each worker restarted at every step of a run, losing what it had read (0 to 2 frames).
    @Test(arguments: ChainModel.Worker.allCases)
    func aRestartAtEveryPointLosesAndRepeatsNothing(worker: ChainModel.Worker) {
        for lost in 0...2 {
            for point in 0..<120 {
                var chain = ChainModel(total: 12, window: 3)
                var turn = 0
                for _ in 0..<point {
                    _ = chain.step((0..<6).map { ($0 + turn) % 6 })
                    turn += 1
                }
                chain.inject(.restart(worker, losing: lost))
                chain.settle()
                chain.expectExactlyOnce("\(worker) restarted at step \(point), \(lost) frames lost")
            }
        }
    }

    /// Random schedules of duplicated, reordered and lost frames and restarts of any worker.
    @Test(arguments: 0..<200)
    func randomFaultsNeverBreakExactlyOnce(seed: Int) {
        var dice = FaultDice(state: UInt64(seed))
        var chain = ChainModel(total: 25, window: 1 + dice.next(5))
        var faults: [ChainModel.Fault] = []
        for _ in 0..<400 {
            if dice.next(10) == 0 {
                let fault: ChainModel.Fault
                switch dice.next(3) {
                case 0: fault = .restart(ChainModel.Worker.allCases[dice.next(3)], losing: dice.next(3))
                case 1: fault = .duplicate(queue: dice.next(4))
                default: fault = .swap(queue: dice.next(4))
                }
                faults.append(fault)
                chain.inject(fault)
            }
            _ = chain.step((0..<6).map { _ in dice.next(6) } + Array(0..<6))
        }
        chain.settle()
        chain.expectExactlyOnce("seed \(seed): \(faults)")
    }

    /// The sink restarted with a poison pill named, at every point: the pill is committed once, as
    /// quarantined, if it was not committed before, and every other batch once as it is.
    @Test func aPoisonPillNamedAtARestartIsQuarantinedOnceInItsPlace() {
        for point in 0..<100 {
            var chain = ChainModel(total: 12, window: 3)
            chain.pillForNextSinkStart = PoisonPill(item: "batch 6", evidence: "3 crashes")
            var turn = 0
            for _ in 0..<point {
                _ = chain.step((0..<6).map { ($0 + turn) % 6 })
                turn += 1
            }
            let wasCommitted = chain.checkpoint >= 6
            chain.inject(.restart(.sink, losing: 1))
            chain.settle()
            chain.expectExactlyOnce("sink restarted with a pill at step \(point)")
            #expect(chain.quarantined == (wasCommitted ? [] : [6]), "step \(point)")
        }
    }
}
