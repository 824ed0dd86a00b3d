import Testing
@testable import Workers
@testable import SensorSimulator

@Suite struct SimulatorWorkerTests {
    @Test func parsesEveryOptionWithDefaults() throws {
        let defaults = try SensorSimWorker(arguments: ["--port", "8080"]).configuration
        #expect(defaults == SensorSimServer.Configuration(host: "127.0.0.1", port: 8080, records: 10_000, seed: 42))
        let worker = try SensorSimWorker(arguments: [
            "--port", "65535", "--host", "::1", "--records", "0", "--seed", "18446744073709551615",
            "--fault", "outage=2", "--fault", "poison=0.5",
        ])
        var faults = SimulatorFaults()
        faults.outage = .seconds(2)
        faults.poisonRate = 0.5
        #expect(worker.configuration == SensorSimServer.Configuration(host: "::1", port: 65535, records: 0, seed: .max, faults: faults))
    }

    @Test(arguments: [
        ([], "role sensor-sim needs --port P"),
        (["--port"], "--port needs a value"),
        (["--port", "0"], "--port expects 1...65535, got '0'"),
        (["--port", "65536"], "--port expects 1...65535, got '65536'"),
        (["--port", "http"], "--port expects 1...65535, got 'http'"),
        (["--port", "80", "--records", "-1"], "--records expects a record count 0...2000000 (the simulated hours end in 2022), got '-1'"),
        (["--port", "80", "--records", "2000001"], "--records expects a record count 0...2000000 (the simulated hours end in 2022), got '2000001'"),
        (["--port", "80", "--seed", "x"], "--seed expects an integer"),
        (["--port", "80", "--fault", "boom=1"], "--fault: fault 'boom=1': unknown kind 'boom'"),
        (["--port", "80", "--host", "localhost"], "--host: host 'localhost' is not a numeric IPv4 or IPv6 address"),
        (["--port", "80", "--verbose"], "unknown option '--verbose' for role sensor-sim"),
    ])
    func rejectsBadCommandLinesNamingTheOption(arguments: [String], message: String) {
        #expect {
            try SensorSimWorker(arguments: arguments)
        } throws: { error in
            ((error as? SensorSimWorker.UsageError)?.description ?? "").contains(message)
        }
    }
}
