import NIOHTTP1
import Testing

@testable import GatehouseFunctions

/// What a function sees of the caller's request, and what the caller sees of the function's response.
@Suite("Forwarded headers")
struct ForwardedHeadersTests {
    func upstream(
        _ headers: HTTPHeaders, client: String? = "203.0.113.7", requestId: String = "req-1"
    ) -> (head: HTTPRequestHead, forwardedFor: String?) {
        var forwardedFor: String?
        let head = ForwardedHeaders.upstreamRequest(
            HTTPRequestHead(version: .http1_0, method: .POST, uri: "/greet?x=1", headers: headers),
            requestId: requestId, clientAddress: client, forwardedFor: &forwardedFor, path: "/greet?x=1")
        return (head, forwardedFor)
    }

    @Test("Hop-by-hop headers, and headers named in Connection, do not reach the function")
    func requestHopByHop() {
        let (head, _) = upstream([
            "Host": "hello.default.localhost", "Connection": "keep-alive, X-Secret", "Keep-Alive": "timeout=5",
            "Proxy-Connection": "keep-alive", "TE": "deflate", "Trailer": "Expires", "Upgrade": "h2c",
            "x-secret": "1", "Transfer-Encoding": "chunked", "Accept": "*/*",
        ])
        for name in ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-secret"] {
            #expect(!head.headers.contains(name: name), "\(name) should be removed")
        }
        #expect(head.headers["transfer-encoding"] == ["chunked"])
        #expect(head.headers["accept"] == ["*/*"])
        #expect(head.method == .POST)
        #expect(head.uri == "/greet?x=1")
        #expect(head.version == .http1_1)
    }

    @Test("Every hop-by-hop name is recognised in any case, and nothing else is")
    func hopByHopNames() {
        for name in ForwardedHeaders.hopByHop {
            #expect(ForwardedHeaders.isHopByHop(name) && ForwardedHeaders.isHopByHop(name.uppercased()), "\(name)")
            #expect(!ForwardedHeaders.isHopByHop(name + "s") && !ForwardedHeaders.isHopByHop(String(name.dropLast())), "\(name)")
        }
        for other in ["t3", "trailers", "keep_alive", "Connectioñ", "proxy-connectioN2", "transfer-encoding", "host", ""] {
            #expect(!ForwardedHeaders.isHopByHop(other), "\(other)")
        }
        #expect(ForwardedHeaders.isHopByHop("KeEp-AlIvE"))
    }

    @Test("A function's Connection: keep-alive, the usual one, is removed alone; what it names goes too; the rest stays")
    func responseConnectionHeader() {
        var head = HTTPResponseHead(version: .http1_1, status: .ok, headers: [
            "Server": "nginx", "Content-Length": "6", "Connection": "keep-alive, X-Internal", "X-Internal": "1", "Keep-Alive": "timeout=5",
        ])
        head = ForwardedHeaders.downstreamResponse(head)
        #expect(head.headers.map(\.name) == ["Server", "Content-Length"])
        for value in ["keep-alive", "Keep-Alive", "close", "CLOSE"] {
            let plain = ForwardedHeaders.downstreamResponse(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["connection": value, "Date": "x"]))
            #expect(plain.headers.map(\.name) == ["Date"], "\(value)")
        }
        // Not the lone usual value: the tokens are read, and what they name removed.
        let named = ForwardedHeaders.downstreamResponse(HTTPResponseHead(version: .http1_1, status: .ok, headers: [
            "Connection": "keep-alive", "Connection": "x-a", "X-A": "1", "Date": "x",
        ]))
        #expect(named.headers.map(\.name) == ["Date"])
        let spaced = ForwardedHeaders.downstreamResponse(HTTPResponseHead(version: .http1_1, status: .ok, headers: [
            "Connection": "keep-alive ,x-b", "X-B": "1", "Date": "x",
        ]))
        #expect(spaced.headers.map(\.name) == ["Date"])
    }

    @Test("TE: trailers is the one TE passed on (gRPC servers require it), as Envoy does")
    func teTrailers() {
        let (head, _) = upstream(["Host": "hello.default.localhost", "TE": "trailers", "Connection": "TE"])
        #expect(head.headers["te"] == ["trailers"])
        let (mixed, _) = upstream(["Host": "hello.default.localhost", "TE": "deflate, Trailers"])
        #expect(mixed.headers["te"] == ["trailers"])
    }

    @Test("X-Forwarded-*, Forwarded and X-Request-Id describe the caller to the function")
    func forwardingHeaders() {
        let (head, forwardedFor) = upstream(["Host": "hello.default.localhost:8080", "X-Request-Id": "spoofed"])
        #expect(head.headers["x-forwarded-for"] == ["203.0.113.7"])
        #expect(forwardedFor == "203.0.113.7")
        #expect(head.headers["x-forwarded-proto"] == ["http"])
        #expect(head.headers["x-forwarded-host"] == ["hello.default.localhost:8080"])
        #expect(head.headers["forwarded"] == [#"for=203.0.113.7;host="hello.default.localhost:8080";proto=http"#])
        #expect(head.headers["x-request-id"] == ["req-1"])
    }

    @Test("An existing X-Forwarded-For chain and Forwarded header are appended to")
    func appendsToChains() {
        let (head, forwardedFor) = upstream([
            "Host": "h", "X-Forwarded-For": "198.51.100.1, 198.51.100.2", "Forwarded": "for=198.51.100.2",
        ])
        #expect(head.headers["x-forwarded-for"] == ["198.51.100.1, 198.51.100.2, 203.0.113.7"])
        #expect(forwardedFor == "198.51.100.1, 198.51.100.2, 203.0.113.7")
        #expect(head.headers["forwarded"] == [#"for=198.51.100.2, for=203.0.113.7;host="h";proto=http"#])
    }

    @Test("A caller's own X-Forwarded-Proto, X-Forwarded-Host or X-Request-Id, alone and in any case, is replaced, not kept beside Gatehouse's",
          arguments: [("X-FORWARDED-PROTO", "x-forwarded-proto", "http"), ("x-Forwarded-Host", "x-forwarded-host", "h"), ("X-REQUEST-ID", "x-request-id", "req-1")])
    func callersClaimsReplaced(_ sent: String, _ name: String, _ expected: String) {
        let (head, _) = upstream(["Host": "h", sent: "spoofed", "x-forwarded-prot": "kept", "Content-Type": "text/plain"])
        #expect(head.headers[name] == [expected])
        #expect(head.headers["x-forwarded-prot"] == ["kept"])
        #expect(head.headers["content-type"] == ["text/plain"])
    }

    @Test("An IPv6 client is quoted and bracketed in Forwarded (RFC 7239); an unknown one is 'unknown'")
    func forwardedNodes() {
        #expect(upstream(["Host": "h"], client: "::1").head.headers["forwarded"] == [#"for="[::1]";host="h";proto=http"#])
        #expect(upstream(["Host": "h"], client: "::1").head.headers["x-forwarded-for"] == ["::1"])
        #expect(upstream(["Host": "h"], client: nil).head.headers["forwarded"] == [#"for=unknown;host="h";proto=http"#])
    }

    @Test("An X-Forwarded-For chain split over several header lines is kept whole")
    func multiLineChain() {
        var headers: HTTPHeaders = ["Host": "h"]
        headers.add(name: "X-Forwarded-For", value: "198.51.100.1")
        headers.add(name: "X-Forwarded-For", value: "198.51.100.2")
        let (_, forwardedFor) = upstream(headers)
        #expect(forwardedFor == "198.51.100.1, 198.51.100.2, 203.0.113.7")
    }

    @Test("Hop-by-hop headers from the function do not reach the caller; the response is HTTP/1.1")
    func responseHopByHop() {
        let head = ForwardedHeaders.downstreamResponse(HTTPResponseHead(
            version: .http1_0, status: .ok,
            headers: [
                "Connection": "close, X-Internal", "Keep-Alive": "timeout=5", "X-Internal": "1",
                "Transfer-Encoding": "chunked", "Content-Type": "text/plain",
            ]))
        for name in ["connection", "keep-alive", "x-internal"] {
            #expect(!head.headers.contains(name: name), "\(name) should be removed")
        }
        // The body was de-chunked; NIO's encoder frames it again, so the function's spelling goes.
        #expect(!head.headers.contains(name: "transfer-encoding"))
        #expect(head.headers["content-type"] == ["text/plain"])
        #expect(head.status == .ok)
        #expect(head.version == .http1_1)
    }
}
