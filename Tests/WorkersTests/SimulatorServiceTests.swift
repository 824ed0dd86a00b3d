import Foundation
import Testing
@testable import Workers

/// Routing, query validation and request-level faults, without sockets.
@Suite struct SimulatorServiceTests {
    private func service(records: Int = 2500, _ configure: (inout SimulatorFaults) -> Void = { _ in }) -> SensorSimService {
        var faults = SimulatorFaults()
        configure(&faults)
        return SensorSimService(generator: TelemetryGenerator(seed: 42, count: records), faults: faults)
    }

    private func get(_ service: SensorSimService, _ path: String, _ query: [(String, String)] = [], number: UInt64 = 0) -> SensorSimService.Reply {
        service.respond(method: "GET", path: path, query: query.map { (name: $0.0, value: $0.1) }, requestNumber: number)
    }

    private func json(_ reply: SensorSimService.Reply) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
    }

    @Test func defaultPageIsTheFirstThousand() throws {
        let reply = get(service(), "/v1/telemetry")
        #expect(reply.status == 200)
        #expect(reply.isTelemetry)
        let object = try json(reply)
        #expect((object["records"] as? [Any])?.count == 1000)
        #expect(object["next_cursor"] as? String == "1000")
        #expect(try json(get(service(), "/v1/telemetry", [("cursor", ""), ("limit", "")]))["next_cursor"] as? String == "1000")
    }

    @Test(arguments: [
        ("cursor", "abc", "cursor 'abc' is not a record index"),
        ("cursor", "-1", "cursor '-1' is not a record index"),
        ("cursor", "+5", "cursor '+5' is not a record index"),
        ("cursor", "2501", "cursor 2501 is past the end (2500 records)"),
        ("cursor", "99999999999999999999999", "is not a record index"),
        ("limit", "0", "limit '0' is not a page size (expected 1...10000)"),
        ("limit", "10001", "limit '10001' is not a page size"),
        ("limit", "ten", "limit 'ten' is not a page size"),
    ])
    func badQueryIs400NamingTheParameter(name: String, value: String, message: String) throws {
        let reply = get(service(), "/v1/telemetry", [(name, value)])
        #expect(reply.status == 400)
        let object = try json(reply)
        #expect(object["parameter"] as? String == name)
        #expect((object["error"] as? String)?.contains(message) == true, "\(object)")
    }

    @Test func unknownPathIs404AndOtherMethodsAre405() throws {
        let missing = get(service(), "/v2/telemetry")
        #expect(missing.status == 404)
        #expect((try json(missing)["error"] as? String)?.contains("/v2/telemetry") == true)
        #expect(service().respond(method: "POST", path: "/v1/telemetry", query: [], requestNumber: 0).status == 405)
    }

    @Test func healthCountsTheRecords() throws {
        let reply = get(service(records: 77), "/health")
        #expect(reply.status == 200)
        #expect(!reply.isTelemetry)
        #expect(try json(reply) as NSDictionary == ["status": "ok", "records": 77])
    }

    @Test func http500AtRateOneFailsEveryTelemetryRequest() throws {
        let failing = service { $0.http500Rate = 1 }
        for number in 0..<50 as Range<UInt64> {
            let reply = get(failing, "/v1/telemetry", number: number)
            #expect(reply.status == 500)
            #expect(try json(reply)["error"] as? String == "simulated internal server error")
        }
        #expect(get(failing, "/health").status == 200)
    }

    @Test func malformedAtRateOneBreaksEveryBody() {
        let broken = service { $0.malformedRate = 1 }
        for number in 0..<20 as Range<UInt64> {
            let reply = get(broken, "/v1/telemetry", [("cursor", "\(number * 100)"), ("limit", "\(number + 1)")], number: number)
            #expect(reply.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: Data(reply.body))) == nil)
        }
    }

    @Test func requestFaultsAreSeededAndNearTheirRate() {
        let first = service { $0.http500Rate = 0.3; $0.malformedRate = 0.3 }
        let second = service { $0.http500Rate = 0.3; $0.malformedRate = 0.3 }
        var statuses: [Int] = []
        var malformed = 0
        for number in 0..<1000 as Range<UInt64> {
            let reply = get(first, "/v1/telemetry", [("limit", "1")], number: number)
            #expect(reply == get(second, "/v1/telemetry", [("limit", "1")], number: number))
            statuses.append(reply.status)
            if reply.status == 200, (try? JSONSerialization.jsonObject(with: Data(reply.body))) == nil { malformed += 1 }
        }
        let failures = statuses.filter { $0 == 500 }.count
        #expect((240...360).contains(failures), "\(failures) of 1000 at 30 %")
        // Malformed is decided independently, among the 70 % that did not fail.
        #expect((150...270).contains(malformed), "\(malformed) of 1000 at 30 % of 70 %")
    }
}
