import GatehouseCore
import Testing

@testable import GatehouseRouting

@Suite("Routing by Host")
struct HostRouterTests {
    let router = HostRouter(
        functions: [
            FunctionSpec(name: "hello", process: .init(command: ["true"])),
            FunctionSpec(name: "hello", namespace: "team-a", process: .init(command: ["true"])),
        ],
        domain: "localhost")

    @Test("NAME.NAMESPACE.domain reaches the function, with or without a port, in any case")
    func knativeHostNames() {
        #expect(router.destination(forHost: "hello.default.localhost")?.key == FunctionKey(namespace: "default", name: "hello"))
        #expect(router.destination(forHost: "hello.default.localhost:8080")?.key.name == "hello")
        #expect(router.destination(forHost: "Hello.Team-A.LOCALHOST:80")?.key.namespace == "team-a")
        #expect(router.destination(forHost: "hello.team-a.localhost.")?.key.namespace == "team-a")
    }

    @Test("Unknown hosts, other domains and bare names do not match")
    func noMatch() {
        #expect(router.destination(forHost: "bye.default.localhost") == nil)
        #expect(router.destination(forHost: "hello.default.example.com") == nil)
        #expect(router.destination(forHost: "hello") == nil)
        #expect(router.destination(forHost: "") == nil)
        #expect(router.destination(forHost: "[::1]:8080") == nil)
    }

    @Test("The stage rejects an unknown host with NR and records the destination otherwise")
    func stage() {
        let stage = RouteByHost(router: router)
        var record = RequestRecord(
            requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: "/", httpProtocol: "HTTP/1.1",
            authority: "nope.default.localhost")
        guard case .reject(let error) = stage.process(&record, headers: NoHeaders()) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(error.code == .routeNotFound)
        #expect(record.responseFlags == .noRoute)

        record.authority = "hello.default.localhost"
        record.responseFlags = []
        guard case .proceed = stage.process(&record, headers: NoHeaders()) else {
            Issue.record("expected the request to proceed")
            return
        }
        #expect(record.destination?.revision == "hello-00001")
        #expect(record.destination?.serviceHost == "hello.default.svc.cluster.local")
    }
}

struct NoHeaders: RequestHeaders {
    func first(_ name: String) -> String? { nil }
    func joined(_ name: String) -> String? { nil }
}
