import Testing
@testable import Workers

@Suite struct ExtractRetryScheduleTests {
    private let schedule = RetrySchedule(initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2, jitter: 0.2)

    @Test func triesTheFirstAttemptAtOnce() {
        #expect(schedule.delay(forAttempt: 1, unitRandom: 0.99) == .zero)
        #expect(schedule.delay(forAttempt: 0, unitRandom: 0.5) == .zero)
    }

    @Test func growsExponentiallyUpToTheCap() {
        let delays = (2...9).map { schedule.delay(forAttempt: $0, unitRandom: 0.5) }
        #expect(delays == [100, 200, 400, 800, 1600, 2000, 2000, 2000].map { Duration.milliseconds($0) })
        #expect(schedule.delay(forAttempt: 10_000, unitRandom: 0.5) == .seconds(2))
        #expect(schedule.delay(forAttempt: Int.max, unitRandom: 0.5) == .seconds(2))
    }

    @Test func spreadsEachWaitByTheJitter() {
        #expect(schedule.delay(forAttempt: 3, unitRandom: 0) == .milliseconds(160))
        #expect(schedule.delay(forAttempt: 3, unitRandom: 0.75) == .milliseconds(220))
        // Jitter never takes a wait past the maximum.
        #expect(schedule.delay(forAttempt: 20, unitRandom: 0.999) == .seconds(2))
        #expect(schedule.delay(forAttempt: 20, unitRandom: 0) == .milliseconds(1600))
    }
}
