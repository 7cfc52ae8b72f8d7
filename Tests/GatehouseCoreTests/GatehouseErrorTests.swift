import GatehouseCore
import Testing

@Suite("Gatehouse errors")
struct GatehouseErrorTests {
    @Test("Errors are equal, and hash alike, when their codes are, whatever the detail")
    func equalByCode() {
        let one = GatehouseError(.queueFull, detail: "100 waiting", retryAfter: .seconds(1))
        let other = GatehouseError(.queueFull, detail: "something else")
        #expect(one == other)
        #expect(Set([one, other]).count == 1)
        #expect(one != GatehouseError(.functionUnavailable, detail: "100 waiting"))
    }

    @Test("Codes have stable snake_case names and the description carries the detail")
    func names() {
        #expect(GatehouseError.Code.upstreamConnectFailure.name == "upstream_connect_failure")
        #expect(GatehouseError.Code.routeNotFound.description == "route_not_found")
        #expect(GatehouseError(.upstreamTimeout, detail: "after 300s").description == "upstream_timeout: after 300s")
    }
}
