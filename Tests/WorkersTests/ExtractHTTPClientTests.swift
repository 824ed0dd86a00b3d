import Foundation
import Glibc
import Testing
import Pipeline
import Wire
@testable import Workers

/// A one-record page as the sensor API serves it.
let samplePage = "{\"records\":[{\"timestamp\":\"2025-01-01T00:00:00Z\",\"pump_id\":\"P_001\",\"flow_rate\":512.3,"
    + "\"pressure\":4.98,\"vibration\":2.1,\"temperature\":44.7,\"failure\":0}],\"next_cursor\":\"1\"}"

/// The page `samplePage` decodes to.
let samplePageDecoded = TelemetryPage(records: [
    TelemetryRecord(timestamp: 1_735_689_600, pumpID: "P_001", flowRate: 512.3, pressure: 4.98,
                    vibration: 2.1, temperature: 44.7, failure: 0),
], nextCursor: "1")

/// Real HTTP through libcurl to `ExtractTestServer` on loopback.
@Suite(.timeLimit(.minutes(1))) struct ExtractHTTPClientTests {
    @Test func loadsLibcurlWithDlopen() throws {
        let curl = try LibCurl.shared()
        #expect(curl.version.hasPrefix("libcurl/"))
    }

    @Test func getsAPageThatDecodes() throws {
        let server = try ExtractTestServer([.ok(samplePage)])
        let response = try HTTPClient().get(server.baseURL + "/v1/telemetry?limit=1")
        #expect(response.status == 200)
        #expect(try TelemetryPage.decode(response.body) == samplePageDecoded)
        #expect(server.requests == ["GET /v1/telemetry?limit=1 HTTP/1.1"])
    }

    @Test func reusesOneConnectionForSuccessiveRequests() throws {
        let server = try ExtractTestServer([.ok(samplePage), .status(503), .ok(samplePage)])
        let client = try HTTPClient()
        #expect(try client.get(server.baseURL + "/a").status == 200)
        #expect(try client.get(server.baseURL + "/b").status == 503)
        #expect(try client.get(server.baseURL + "/c").body == Array(samplePage.utf8))
        #expect(server.requests.count == 3)
        #expect(server.acceptedConnections == 1)
    }

    @Test func returnsAnyStatusWithItsBody() throws {
        let server = try ExtractTestServer([.status(404)])
        let response = try HTTPClient().get(server.baseURL + "/nowhere")
        #expect(response.status == 404)
        #expect(response.body == Array("{\"error\":\"scripted\"}".utf8))
    }

    @Test func reportsARefusedConnectionAsRetryable() throws {
        // Bound but not listening: the kernel refuses connections, and nobody else can take the port.
        let server = try ExtractTestServer([], listening: false)
        let url = server.baseURL + "/v1/telemetry"
        let error = try #require(throws: ExtractError.self) { try HTTPClient().get(url) }
        #expect(error == ExtractError(.connectionRefused, url: url))
        #expect(error.isRetryable)
        #expect(error.description == "GET \(url): connection refused")
    }

    @Test func timesOutWhenTheServerNeverAnswers() throws {
        let server = try ExtractTestServer([.hang])
        let client = try HTTPClient(configuration: .init(connectTimeout: .seconds(2), timeout: .milliseconds(200)))
        let error = try #require(throws: ExtractError.self) { try client.get(server.baseURL + "/slow") }
        #expect(error.code == .timeout)
        #expect(error.isRetryable)
        server.stop()
    }

    @Test func rejectsABodyOverTheLimit() throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 10_000)
        // Announced by Content-Length, then of unknown length (ends when the server closes).
        let server = try ExtractTestServer([.respond(status: 200, body: body), .respondAndClose(status: 200, body: body)])
        let client = try HTTPClient(configuration: .init(maximumBodySize: 4096))
        for _ in 0..<2 {
            let error = try #require(throws: ExtractError.self) { try client.get(server.baseURL + "/big") }
            #expect(error.code == .tooLarge(limit: 4096))
            #expect(!error.isRetryable)
        }
        let roomy = try HTTPClient(configuration: .init(maximumBodySize: 10_000))
        let again = try ExtractTestServer([.respondAndClose(status: 200, body: body)])
        #expect(try roomy.get(again.baseURL + "/big").body == body)
    }

    @Test func reportsAnUnresolvableHost() throws {
        let error = try #require(throws: ExtractError.self) { try HTTPClient().get("http://no-such-host.invalid/") }
        #expect(error.code == .couldNotResolve)
    }

    @Test func refusesOtherProtocols() throws {
        let error = try #require(throws: ExtractError.self) { try HTTPClient().get("file:///etc/passwd") }
        guard case .otherTransport = error.code else {
            Issue.record("\(error)")
            return
        }
        #expect(!error.isRetryable)
    }

    @Test(arguments: [
        (ExtractError.Code.connectionRefused, true), (.couldNotResolve, true), (.timeout, true),
        (.httpStatus(500), true), (.httpStatus(503), true), (.httpStatus(429), true),
        (.httpStatus(404), false), (.httpStatus(400), false), (.httpStatus(301), false),
        (.malformedBody("x", at: .init(offset: 0)), true), (.tooLarge(limit: 1), false),
        (.otherTransport(curlCode: 56, message: "recv failure"), true), (.otherTransport(curlCode: 1, message: "unsupported protocol"), false),
        (.libraryUnavailable("x"), false), (.stopped, false),
    ])
    func classifiesRetryableErrors(_ code: ExtractError.Code, _ isRetryable: Bool) {
        #expect(ExtractError(code).isRetryable == isRetryable)
    }
}

@Suite struct ExtractLibCurlTests {
    @Test func namesTheLibraryThatCannotBeLoaded() throws {
        let error = try #require(throws: ExtractError.self) { try LibCurl.load(from: "libcurl-missing.so.9") }
        #expect(!error.isRetryable)
        #expect(error.description.hasPrefix("libcurl unavailable: dlopen libcurl-missing.so.9: "))
        #expect(!error.description.contains("\n"))
    }

    @Test func namesTheSymbolThatCannotBeResolved() throws {
        // libc loads, but holds no curl_global_init.
        let error = try #require(throws: ExtractError.self) { try LibCurl.load(from: "libc.so.6") }
        #expect(error.description.hasPrefix("libcurl unavailable: dlsym curl_global_init in libc.so.6: "))
    }
}
