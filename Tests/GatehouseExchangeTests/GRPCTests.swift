import GatehouseCore
import GatehouseExchange
import NIOHTTP1
import Testing

@Suite("gRPC: which requests are calls, grpc-timeout, and refusals as statuses")
struct GRPCReadingTests {
    @Test("content-type application/grpc and its +/; forms are calls; grpc-web and others are not")
    func calls() {
        for type in ["application/grpc", "application/grpc+proto", "Application/GRPC;charset=utf-8"] {
            #expect(GRPC.isCall(["content-type": type]), "\(type)")
        }
        for type in ["application/grpc-web", "application/grpcx", "application/json", ""] {
            #expect(!GRPC.isCall(["content-type": type]), "\(type)")
        }
        #expect(!GRPC.isCall([:]))
    }

    @Test("grpc-timeout: up to 8 digits and a unit; anything else is no deadline")
    func timeouts() {
        #expect(GRPC.timeout("300m") == .milliseconds(300))
        #expect(GRPC.timeout("2S") == .seconds(2))
        #expect(GRPC.timeout("1H") == .seconds(3600))
        #expect(GRPC.timeout("5M") == .seconds(300))
        #expect(GRPC.timeout("99999999u") == .microseconds(99_999_999))
        #expect(GRPC.timeout("7n") == .nanoseconds(7))
        for bad in ["", "m", "123456789S", "-1S", "1s", "1.5S", "10 m", "1x"] {
            #expect(GRPC.timeout(bad) == nil, "\(bad)")
        }
    }

    @Test("a refusal is HTTP 200 with grpc-status and a percent-encoded grpc-message in trailers; www-authenticate stays in the head")
    func refusal() {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "www-authenticate", value: "Bearer error=\"invalid_token\"")
        let rendered = RenderedError(status: .unauthorized, flags: [], headers: headers, body: "{}", message: "The request's token is not valid: 100%")
        let error = GatehouseError(.invalidToken, detail: "secret detail", reason: "jwt_malformed")
        let refusal = GRPC.refusal(rendered, for: error, requestId: "abc")
        #expect(refusal.head.status == .ok)
        #expect(refusal.head.headers["content-type"] == ["application/grpc"])
        #expect(refusal.head.headers.first(name: "www-authenticate") == "Bearer error=\"invalid_token\"")
        #expect(refusal.trailers.first(name: "grpc-status") == "16")
        #expect(refusal.trailers.first(name: "grpc-message") == "The request's token is not valid: 100%25 (jwt_malformed) request id abc")
        #expect(refusal.trailers.first(name: "grpc-message")?.contains("secret") == false)
    }

    @Test("statuses follow gRPC's HTTP mapping; running out of time is DEADLINE_EXCEEDED")
    func statuses() {
        let denied = GatehouseError(.deniedByPolicy, detail: "")
        #expect(GRPC.status(for: denied, httpStatus: 403) == 7)
        #expect(GRPC.status(for: GatehouseError(.routeNotFound, detail: ""), httpStatus: 404) == 12)
        #expect(GRPC.status(for: GatehouseError(.rateLimited, detail: ""), httpStatus: 429) == 14)
        #expect(GRPC.status(for: GatehouseError(.upstreamTimeout, detail: ""), httpStatus: 504) == 4)
        #expect(GRPC.status(for: GatehouseError(.shuttingDown, detail: ""), httpStatus: 500) == 2)
    }
}
