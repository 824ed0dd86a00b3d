import Foundation
import Logging
import Testing
import Pipeline
import Wire
@testable import Workers
@testable import SensorSimulator

/// The simulator over real TCP on loopback, in-process, with a client that shares no code with it.
@Suite(.serialized, .timeLimit(.minutes(1))) struct SimulatorServerTests {
    /// Runs a server on a fixed `port` for `body` (which polls it), then stops it.
    private func withServer(
        records: Int, port: UInt16, faults: SimulatorFaults, _ body: (ListeningFlag) async throws -> Void
    ) async throws {
        let configuration = SensorSimServer.Configuration(port: port, records: records, seed: 42, faults: faults)
        let server = try SensorSimServer(configuration: configuration, logger: Logger(label: "cidp.sensor-sim.test"))
        let flag = ListeningFlag()
        let serving = Task { try await server.run { _ in flag.set() } }
        defer { serving.cancel() }
        do {
            try await body(flag)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        _ = await serving.result
    }

    /// The port of a server started on port 0, once it listens.
    private func serve(records: Int = 2500, faults: SimulatorFaults = SimulatorFaults(), _ body: (UInt16) async throws -> Void) async throws {
        try await serve(records: records, faults: faults) { port, _ in try await body(port) }
    }

    /// The same, with the server itself for a body that stops it or looks inside it.
    private func serve(
        records: Int = 2500, faults: SimulatorFaults = SimulatorFaults(), _ body: (UInt16, SensorSimServer) async throws -> Void
    ) async throws {
        let configuration = SensorSimServer.Configuration(port: 0, records: records, seed: 42, faults: faults)
        let server = try SensorSimServer(configuration: configuration, logger: Logger(label: "cidp.sensor-sim.test"))
        let (ports, continuation) = AsyncStream<UInt16>.makeStream()
        let serving = Task { try await server.run { continuation.yield($0) } }
        defer { serving.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        #expect(port != 0)
        do {
            try await body(port, server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        _ = await serving.result
    }

    @Test func pagesToTheEndMatchTheGenerator() async throws {
        try await serve(records: 2500) { port in
            let generator = TelemetryGenerator(seed: 42, count: 2500)
            var cursor: String? = ""
            var served: [TelemetryRecord] = []
            var cursors: [String] = []
            while let current = cursor {
                let response = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?cursor=\(current)&limit=1000")
                #expect(response.status == 200)
                #expect(response.headers["content-type"] == "application/json")
                let object = try response.json()
                for row in try #require(object["records"] as? [[String: Any]]) {
                    served.append(try SimulatorRows.record(from: row))
                }
                cursor = object["next_cursor"] as? String
                if let cursor { cursors.append(cursor) } else { #expect(object["next_cursor"] is NSNull) }
                try #require(served.count <= 2500)
            }
            #expect(cursors == ["1000", "2000"])
            #expect(served == generator.page(cursor: 0, limit: 2500))
        }
    }

    @Test func servesALargePageInOneResponse() async throws {
        try await serve(records: 20_000) { port in
            let response = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?cursor=5000&limit=10000")
            #expect(response.status == 200)
            #expect(response.body.count == Int(response.headers["content-length"] ?? "") ?? -1)
            let object = try response.json()
            #expect((object["records"] as? [Any])?.count == 10_000)
            #expect(object["next_cursor"] as? String == "15000")
        }
    }

    @Test func badQueryUnknownPathAndHealth() async throws {
        try await serve(records: 123) { port in
            let bad = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?cursor=abc")
            #expect(bad.status == 400)
            #expect(try bad.json()["parameter"] as? String == "cursor")
            let tooMany = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?limit=20000")
            #expect(tooMany.status == 400)
            #expect(try tooMany.json()["parameter"] as? String == "limit")
            let past = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?cursor=124")
            #expect(past.status == 400)
            #expect(try await SimulatorHTTPClient.get(port: port, "/nowhere").status == 404)
            let health = try await SimulatorHTTPClient.get(port: port, "/health")
            #expect(health.status == 200)
            #expect(try health.json() as NSDictionary == ["status": "ok", "records": 123])
        }
    }

    @Test func http500AtRateOne() async throws {
        var faults = SimulatorFaults()
        faults.http500Rate = 1
        try await serve(faults: faults) { port in
            for _ in 0..<3 {
                let response = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?limit=5")
                #expect(response.status == 500)
                #expect(try response.json()["error"] as? String == "simulated internal server error")
            }
            #expect(try await SimulatorHTTPClient.get(port: port, "/health").status == 200)
        }
    }

    @Test func malformedAtRateOne() async throws {
        var faults = SimulatorFaults()
        faults.malformedRate = 1
        try await serve(faults: faults) { port in
            for _ in 0..<3 {
                let response = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?limit=5")
                #expect(response.status == 200)
                #expect(throws: (any Error).self) { try response.json() }
            }
        }
    }

    @Test func poisonAtRateOneMakesEveryRowImpossibleOrMislabelled() async throws {
        var faults = SimulatorFaults()
        faults.poisonRate = 1
        faults.latency = .milliseconds(5)
        try await serve(faults: faults) { port in
            let generator = TelemetryGenerator(seed: 42, count: 2500)
            let response = try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?cursor=100&limit=2000")
            let rows = try #require(try response.json()["records"] as? [[String: Any]])
            #expect(rows.count == 2000)
            for (offset, row) in rows.enumerated() {
                let record = try SimulatorRows.record(from: row)
                let clean = generator.record(at: 100 + offset)
                #expect(SimulatorRows.isImpossible(record) || record.failure != clean.failure, "row \(100 + offset)")
            }
        }
    }

    /// A stop lets the request being answered finish: its client gets the whole page.
    @Test func aStopWaitsForTheRequestBeingAnswered() async throws {
        var faults = SimulatorFaults()
        faults.latency = .milliseconds(300)
        try await serve(faults: faults) { port, server in
            let request = Task { try await SimulatorHTTPClient.get(port: port, "/v1/telemetry?cursor=0&limit=1000") }
            let deadline = ContinuousClock.now + .seconds(20)
            while server.requestsInFlight == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
            try #require(server.requestsInFlight == 1, "the request never reached the handler")
            await server.stop()
            let response = try await request.value
            #expect(response.status == 200)
            #expect((try response.json()["records"] as? [Any])?.count == 1000)
        }
    }

    @Test func outageRefusesConnectionsAtFirstThenServes() async throws {
        var faults = SimulatorFaults()
        faults.outage = .seconds(3)
        let port = try SimulatorHTTPClient.freePort()
        try await withServer(records: 10, port: port, faults: faults) { listening in
            var refusals = 0
            var refusedBeforeListening = false
            var health: SimulatorHTTPClient.Response?
            let deadline = ContinuousClock.now + .seconds(30)
            while health == nil, ContinuousClock.now < deadline {
                let wasListening = listening.isSet
                do {
                    health = try await SimulatorHTTPClient.get(port: port, "/health")
                } catch let failure as SimulatorHTTPClient.Failure where failure.isConnectionRefused {
                    refusals += 1
                    if !wasListening { refusedBeforeListening = true }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(refusals > 0)
            #expect(refusedBeforeListening)
            #expect(listening.isSet)
            #expect(health?.status == 200)
        }
    }
}

/// Set by the server's `onListening`, read by the test.
final class ListeningFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }

    func set() { lock.withLock { value = true } }
}
