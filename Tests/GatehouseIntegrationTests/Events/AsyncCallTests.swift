import Foundation
import GatehouseTesting
import Testing

/// `Prefer: respond-async`: the call is stored, answered 202 with an id, runs in the background,
/// and its result is read by id (`gatehouse calls get`) or posted to a callback.
@Suite struct AsyncCallTests {
    @Test func anAsyncCallIsAcceptedThenItsResultIsKept() async throws {
        try await withGatehouse(fixtureFunction() + "---\n" + fixtureFunction(name: "hook")) { gatehouse in
            let response = try await gatehouse.request(
                "fn", path: "/echo", method: .POST,
                headers: [("prefer", "respond-async"), ("gatehouse-callback", "http://hook.default.\(gatehouse.domain)/received")],
                body: Array("hello".utf8))
            #expect(response.status == 202, "\(response.body)")
            let id = try #require(response.headers.first(name: "gatehouse-call-id"))
            #expect(id.count == 32)
            #expect(response.headers.first(name: "preference-applied") == "respond-async")
            let done = try await eventually("the call done") { () -> String? in
                let out = try await gatehouse.cli(["calls", "get", id, "-o", "json"]).stdout
                return out.contains("\"done\"") ? out : nil
            }
            let report = try JSONSerialization.jsonObject(with: Data(done.utf8)) as? [String: Any] ?? [:]
            #expect(report["status"] as? Int == 200)
            // The callback got the result through the stages, with the call's id.
            let hook = try await eventually("the callback") { () -> [String: Any]? in
                let line = gatehouse.accessLog.first { ($0["authority"] as? String)?.hasPrefix("hook.") == true && ($0["path"] as? String) == "/received" }
                return line
            }
            #expect(hook["response_code"] as? Int == 200)
            // An unknown id is 404, and the function was not called twice.
            let unknown = try await gatehouse.cli(["calls", "get", String(repeating: "0", count: 32)])
            #expect(unknown.status != 0)
        }
    }

    @Test func aCallbackThatIsNotHTTPIsRefused() async throws {
        try await withGatehouse(fixtureFunction()) { gatehouse in
            let response = try await gatehouse.request(
                "fn", method: .POST, headers: [("prefer", "respond-async"), ("gatehouse-callback", "file:///etc/passwd")], body: Array("x".utf8))
            #expect(response.status == 400)
            #expect(response.body.contains("invalid_callback"))
        }
    }
}
