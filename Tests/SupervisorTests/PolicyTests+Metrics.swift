import Supervisor
import Testing

/// `[metrics]`: where the root serves Prometheus metrics.
@Suite struct PolicyMetricsTests {
    @Test func withoutTheTableTheDefaultAddressIsBestEffort() throws {
        let policy = try PolicyFixture.parse(PolicyFixture.minimal)
        #expect(policy.metrics.listen == .implicitDefault)
        #expect(!policy.metrics.allowsNonLoopback)
    }

    @Test func anEmptyListenTurnsMetricsOff() throws {
        let policy = try PolicyFixture.parse(PolicyFixture.minimal + "\n[metrics]\nlisten = \"\"\n")
        #expect(policy.metrics.listen == .off)
    }

    @Test func aLoopbackAddressIsTakenAsGivenPortZeroIncluded() throws {
        for (text, host, port) in [("127.0.0.1:9464", "127.0.0.1", UInt16(9464)), ("127.0.0.2:0", "127.0.0.2", 0)] {
            let policy = try PolicyFixture.parse(PolicyFixture.minimal + "\n[metrics]\nlisten = \"\(text)\"\n")
            #expect(policy.metrics.listen == .address(host: host, port: port))
        }
    }

    @Test func malformedAddressesAreOneLineNamingTheKey() {
        for text in ["localhost:9464", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.256:80", "127.0.0.1:9x",
                     "[::1]:9464", ":9464", "127.0.0.1:"] {
            let error = PolicyFixture.rejection(PolicyFixture.minimal + "\n[metrics]\nlisten = \"\(text)\"\n")
            #expect(error?.contains("metrics.listen") == true && error?.contains("expected \"HOST:PORT\"") == true,
                    "\(text): \(error ?? "accepted")")
            #expect(error?.contains("\n") == false)
        }
    }

    @Test func aNonLoopbackAddressNeedsTheExplicitKey() throws {
        let refused = PolicyFixture.rejection(PolicyFixture.minimal + "\n[metrics]\nlisten = \"0.0.0.0:9464\"\n")
        #expect(refused?.contains("not a loopback address") == true, "\(refused ?? "accepted")")
        let policy = try PolicyFixture.parse(PolicyFixture.minimal
            + "\n[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_non_loopback = true\n")
        #expect(policy.metrics.listen == .address(host: "0.0.0.0", port: 9464))
        #expect(policy.metrics.allowsNonLoopback)
    }

    @Test func unknownKeysAndWrongTypesAreRefused() {
        #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\n[metrics]\nport = 9464\n")?.contains("unknown key") == true)
        #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\n[metrics]\nlisten = 9464\n")?.contains("metrics.listen") == true)
        #expect(PolicyFixture.rejection(PolicyFixture.minimal + "\n[metrics]\nallow_non_loopback = \"yes\"\n")?
            .contains("allow_non_loopback") == true)
    }
}
