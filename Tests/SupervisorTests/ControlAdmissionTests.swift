import Testing
@testable import Supervisor

/// The control socket's limits as data: `[control]` in the policy, the descriptor budget that
/// reserves the tree's descriptors before any client's, and the refusals' replies and log pacing.
struct ControlAdmissionTests {
    // MARK: [control]

    @Test func controlDefaultsToThirtyTwoClientsAndFiveSeconds() throws {
        let policy = try PolicyFixture.parse(PolicyFixture.minimal)
        #expect(policy.control == ControlSettings(maxConnections: 32, idleTimeout: .seconds(5)))
        let set = try PolicyFixture.parse(PolicyFixture.minimal + "\n[control]\nmax_connections = 4\nidle_timeout_ms = 250\n")
        #expect(set.control == ControlSettings(maxConnections: 4, idleTimeout: .milliseconds(250)))
    }

    @Test(arguments: [
        ("max_connections = 0", "p.toml:7: control.max_connections: expected a number of clients from 1 to 1024, got 0"),
        ("max_connections = 5000", "p.toml:7: control.max_connections: expected a number of clients from 1 to 1024, got 5000"),
        (#"max_connections = "many""#, #"p.toml:7: control.max_connections: expected an integer number of clients, got string "many""#),
        ("idle_timeout_ms = 50", "p.toml:7: control.idle_timeout_ms: expected milliseconds from 100 to 3600000, got 50"),
        ("idle_ms = 50", #"p.toml:7: control.idle_ms: unknown key "idle_ms"; allowed keys: max_connections, idle_timeout_ms"#),
    ])
    func badControlKeysAreRefusedWithOneLine(_ line: String, _ expected: String) {
        #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\n[control]\n" + line + "\n") == expected)
    }

    // MARK: DescriptorBudget

    @Test func theTreesReserveComesBeforeAnyClient() {
        // 5 workers: 5 × 6 + 3 + 16 = 49 reserved besides the 20 open.
        let budget = DescriptorBudget(open: 20, workers: 5)
        #expect(budget.reserve == 49 && budget.base == 69)
        #expect(budget.plan(maxConnections: 32, soft: 1024, hard: 4096) == .serve(connections: 32, raiseSoftLimitTo: nil))
        // The soft limit is raised as far as needed, and no further.
        #expect(budget.plan(maxConnections: 32, soft: 80, hard: 4096) == .serve(connections: 32, raiseSoftLimitTo: 101))
        // The hard limit cannot hold every client: fewer are served, never the reserve's share.
        #expect(budget.plan(maxConnections: 32, soft: 80, hard: 90) == .serve(connections: 21, raiseSoftLimitTo: 90))
        #expect(budget.plan(maxConnections: 32, soft: 90, hard: 90) == .serve(connections: 21, raiseSoftLimitTo: nil))
        #expect(budget.plan(maxConnections: 32, soft: 64, hard: 69) == .tooLow(hardLimit: 69, needed: 70))
        #expect(budget.plan(maxConnections: 1, soft: 64, hard: 70) == .serve(connections: 1, raiseSoftLimitTo: 70))
    }

    // MARK: Refusals

    @Test func aFloodOfRefusalsIsLoggedOncePerInterval() {
        var admission = ControlAdmission(settings: ControlSettings(maxConnections: 2, idleTimeout: .seconds(5)))
        #expect(admission.note(.busy, now: .seconds(100)) == [.busy: 1])
        for second in 0..<9 { #expect(admission.note(.busy, now: .seconds(100 + second)) == nil) }
        #expect(admission.note(.idle, now: .seconds(109)) == nil)
        #expect(admission.flush(now: .seconds(109)) == nil)
        // The end of a flood is logged once its interval has passed, without another refusal.
        #expect(admission.flush(now: .seconds(110)) == [.busy: 9, .idle: 1])
        #expect(admission.flush(now: .seconds(200)) == nil)
        #expect(admission.note(.busy, now: .seconds(200)) == [.busy: 1])
    }

    @Test func theBusyReplySaysWhenTheOldestIdleClientFreesItsSlot() {
        let admission = ControlAdmission(settings: ControlSettings(maxConnections: 2, idleTimeout: .seconds(5)))
        let reply = admission.busyReply(open: 2, oldestIdleSince: .seconds(10), now: .seconds(12))
        #expect(reply.ok == false && reply.retryAfterMs == 3010)
        #expect(reply.error == "control socket busy: 2 connections open, the most control.max_connections allows here (2); try again shortly")
        // No idle client (every one waits for a restart): try again in a second.
        #expect(admission.busyReply(open: 2, oldestIdleSince: nil, now: .seconds(12)).retryAfterMs == 1010)
        #expect(admission.idleReply.error == "no request within 5000 ms of connecting (control.idle_timeout_ms); closing")
    }
}
