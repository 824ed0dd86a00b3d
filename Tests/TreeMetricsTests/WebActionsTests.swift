import Foundation
import Supervisor
import Testing
@testable import TreeMetrics

/// The web view's action guard: the paths it takes, the same-origin rule, the token.
struct WebActionsTests {
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var requests: [ControlRequest] = []
        func record(_ request: ControlRequest) { lock.lock(); requests.append(request); lock.unlock() }
        var all: [ControlRequest] { lock.lock(); defer { lock.unlock() }; return requests }
    }

    static func actions(_ recorder: Recorder, reply: ControlReply = ControlReply(ok: true, message: "restarted")) -> WebActions {
        WebActions(token: "0123456789abcdef0123456789abcdef") { request in
            recorder.record(request)
            return reply
        }
    }

    static let good = ["host": "127.0.0.1:9464", "x-cidp-token": "0123456789abcdef0123456789abcdef"]

    @Test func thePathsNameOneRequest() {
        #expect(WebActions.request(path: "/api/restart/loader") == .restart("loader"))
        #expect(WebActions.request(path: "/api/resume/etl") == .resume("etl"))
        #expect(WebActions.request(path: "/api/resume") == .resume(nil))
        for bad in ["/api/restart", "/api/restart/", "/api/restart/a/b", "/api/stop", "/api/restart/a%20b",
                    "/api/restart/a\u{1b}b", "/x/restart/loader", "/api/restart/" + String(repeating: "a", count: 129)] {
            #expect(WebActions.request(path: bad) == nil, "\(bad)")
        }
    }

    @Test func aRequestWithTheTokenActs() {
        let recorder = Recorder()
        let answer = WebActions.act(Self.actions(recorder), path: "/api/restart/loader", headers: Self.good, port: 9464)
        #expect(answer.status == "200 OK")
        #expect(String(decoding: answer.body, as: UTF8.self) == #"{"message":"restarted","ok":true}"#)
        #expect(recorder.all == [.restart("loader")])
    }

    @Test func withoutTheTokenOrFromAnotherOriginNothingIsDone() {
        let recorder = Recorder()
        let actions = Self.actions(recorder)
        var noToken = Self.good
        noToken["x-cidp-token"] = nil
        var wrongToken = Self.good
        wrongToken["x-cidp-token"] = "0123456789abcdef0123456789abcdee"
        var shortToken = Self.good
        shortToken["x-cidp-token"] = "0123"
        var rebound = Self.good
        rebound["host"] = "attacker.example:9464"
        var otherPort = Self.good
        otherPort["host"] = "127.0.0.1:80"
        var crossSite = Self.good
        crossSite["origin"] = "http://attacker.example"
        var noHost = Self.good
        noHost["host"] = nil
        for headers in [noToken, wrongToken, shortToken, rebound, otherPort, crossSite, noHost] {
            let answer = WebActions.act(actions, path: "/api/restart/loader", headers: headers, port: 9464)
            #expect(answer.status == "403 Forbidden", "\(headers)")
        }
        var sameOrigin = Self.good
        sameOrigin["origin"] = "http://127.0.0.1:9464"
        sameOrigin["host"] = "127.0.0.1:9464"
        #expect(WebActions.act(actions, path: "/api/resume", headers: sameOrigin, port: 9464).status == "200 OK")
        #expect(recorder.all == [.resume(nil)])
    }

    @Test func actionsOffAreRefusedAndTheSessionHasNoToken() {
        let answer = WebActions.act(nil, path: "/api/restart/loader", headers: Self.good, port: 9464)
        #expect(answer.status == "403 Forbidden")
        #expect(String(decoding: answer.body, as: UTF8.self).contains("actions are off"))
        #expect(String(decoding: WebActions.session(nil, headers: Self.good, port: 9464).body, as: UTF8.self)
            == #"{"actions":false}"#)
    }

    @Test func theSessionGivesTheTokenToTheSameOriginOnly() {
        let actions = Self.actions(Recorder())
        let session = WebActions.session(actions, headers: ["host": "localhost:9464"], port: 9464)
        #expect(String(decoding: session.body, as: UTF8.self).contains("0123456789abcdef0123456789abcdef"))
        let rebound = WebActions.session(actions, headers: ["host": "attacker.example:9464"], port: 9464)
        #expect(rebound.status == "403 Forbidden")
        #expect(!String(decoding: rebound.body, as: UTF8.self).contains("0123456789abcdef"))
    }

    @Test func refusalsKeepTheControlSocketsCodes() {
        let refused = Self.actions(Recorder(), reply: ControlReply(ok: false, error: "no child named x", code: 2))
        #expect(WebActions.act(refused, path: "/api/restart/x", headers: Self.good, port: 9464).status == "409 Conflict")
        let unfinished = Self.actions(Recorder(), reply: ControlReply(ok: false, error: "did not become ready", code: 1))
        #expect(WebActions.act(unfinished, path: "/api/restart/x", headers: Self.good, port: 9464).status
            == "500 Internal Server Error")
    }

    @Test func tokensAreRandomAndLongEnough() {
        let a = WebActions.newToken(), b = WebActions.newToken()
        #expect(a.count == 32 && b.count == 32 && a != b)
        #expect(a.allSatisfy { $0.isHexDigit })
    }

    @Test func headerNamesAreCaseInsensitive() {
        let head = Array("POST /api/resume HTTP/1.1\r\nHOST: 127.0.0.1:1\r\nX-Cidp-Token:  abc \r\n\r\n".utf8)
        #expect(WebActions.headers(of: head) == ["host": "127.0.0.1:1", "x-cidp-token": "abc"])
    }
}
