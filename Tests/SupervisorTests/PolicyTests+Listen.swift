import Supervisor
import Testing

/// A worker's `listen` and `allow_non_loopback` (the predictor's address).
struct PolicyListenTests {
    static func policy(_ keys: String) -> String {
        """
        [supervisor]
        children = ["p"]

        [workers.p]
        role = "predictor"
        \(keys)
        """
    }

    func command(_ keys: String) throws -> [String] {
        let policy = try PolicyFixture.parse(Self.policy(keys))
        return Array(policy.root.workers[0].arguments)
    }

    @Test func aLoopbackAddressBecomesTheListenOption() throws {
        #expect(try command("") == [])
        #expect(try command(#"listen = "127.0.0.1:9465""#) == ["--listen", "127.0.0.1:9465"])
        #expect(try command(#"listen = "127.0.0.2:0""#) == ["--listen", "127.0.0.2:0"])
        #expect(try command("listen = \"10.0.0.5:80\"\nallow_non_loopback = true") == ["--listen", "10.0.0.5:80", "--allow-non-loopback"])
    }

    @Test func aMalformedOrOutsideAddressIsOneLineNamingTheKey() {
        #expect(PolicyFixture.rejection(Self.policy(#"listen = "localhost:9465""#))
            == #"p.toml:6: workers.p.listen: the host is not an IPv4 address in "localhost:9465"; expected "HOST:PORT" "#
            + #"with an IPv4 address and a port from 0 to 65535 ("127.0.0.1:9465"; port 0 for any free port)"#)
        #expect(PolicyFixture.rejection(Self.policy(#"listen = "127.0.0.1:70000""#))?.contains("the port is not a number") == true)
        #expect(PolicyFixture.rejection(Self.policy("listen = 9465"))?.hasPrefix("p.toml:6: workers.p.listen: expected a string") == true)
        #expect(PolicyFixture.rejection(Self.policy(#"listen = "0.0.0.0:9465""#))
            == #"p.toml:6: workers.p.listen: "0.0.0.0:9465" is not a loopback address (127.0.0.0/8); a worker serves "#
            + "beyond this machine only with allow_non_loopback = true in its table")
        #expect(PolicyFixture.rejection(Self.policy(#"allow_non_loopback = "yes""#))
            == "p.toml:6: workers.p.allow_non_loopback: expected true or false")
    }
}
