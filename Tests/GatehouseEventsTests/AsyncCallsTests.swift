import Testing

@testable import GatehouseEvents

/// What an async call keeps, and where its result may go.
@Suite struct AsyncCallsTests {
    @Test func aCallbackKeepsItsEscapesSoNoLineBreakReachesTheRequestLine() throws {
        let address = try #require(AsyncCalls.callbackAddress("http://pub.default.localhost:8080/cb%20HTTP/1.1%0D%0AX:%20y?a=%0A"))
        #expect(address.host == "pub.default.localhost:8080")
        #expect(address.path == "/cb%20HTTP/1.1%0D%0AX:%20y?a=%0A")
        #expect(!address.path.contains("\r") && !address.path.contains("\n") && !address.path.contains(" "))
    }

    @Test(arguments: ["https://h/x", "file:///etc/passwd", "http://user:pw@h/x", "http:///x", "http://h/x#frag", "not a url"])
    func aCallbackThatIsNotAPlainHTTPURLIsRefused(_ value: String) {
        #expect(AsyncCalls.callbackAddress(value) == nil)
    }

    @Test func theStoredRequestLosesFramingHopByHopAndIdentityHeaders() {
        var headers = HTTPHeadersForTest.make([
            ("Host", "h"), ("Content-Length", "3"), ("Connection", "x-secret"), ("X-Secret", "1"), ("Prefer", "respond-async"),
            ("X-Forwarded-Client-Cert", "URI=spiffe://forged"), ("Gatehouse-Callback", "http://h/"), ("Authorization", "Bearer t"), ("X-Keep", "yes"),
        ])
        headers.add(name: "TE", value: "trailers")
        let kept = AsyncCalls.forwardedHeaders(headers).map { $0.name.lowercased() }
        #expect(kept == ["authorization", "x-keep"])
    }
}

import NIOHTTP1

enum HTTPHeadersForTest {
    static func make(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }
}
