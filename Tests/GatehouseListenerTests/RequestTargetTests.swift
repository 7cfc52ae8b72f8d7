import NIOHTTP1
import Testing

@testable import GatehouseListener

@Suite("Request targets become origin-form")
struct RequestTargetTests {
    func head(_ uri: String, method: HTTPMethod = .GET, host: String = "client.example") -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: ["host": host])
    }

    @Test("Origin-form passes unchanged")
    func origin() {
        #expect(RequestTarget.originForm(head("/a?b=1"))?.uri == "/a?b=1")
        #expect(RequestTarget.originForm(head("/a?b=1"))?.headers.first(name: "host") == "client.example")
    }

    @Test("Absolute-form becomes its path and query, with the URI's authority as Host", arguments: [
        ("http://fn.default.localhost/admin", "/admin", "fn.default.localhost"),
        ("HTTPS://fn.default.localhost:8443/a/b?x=1", "/a/b?x=1", "fn.default.localhost:8443"),
        ("http://fn.default.localhost", "/", "fn.default.localhost"),
        ("http://fn.default.localhost?q", "/?q", "fn.default.localhost"),
    ])
    func absolute(_ uri: String, _ path: String, _ host: String) throws {
        let rewritten = try #require(RequestTarget.originForm(head(uri)))
        #expect(rewritten.uri == path)
        #expect(rewritten.headers["host"] == [host])
    }

    @Test("Other forms are refused; OPTIONS * is not", arguments: ["admin", "*", "ftp://x/y", "http:///nohost", "http://user@host/"])
    func refused(_ uri: String) {
        #expect(RequestTarget.originForm(head(uri)) == nil)
    }

    @Test("OPTIONS * is the asterisk form's one use")
    func asterisk() {
        #expect(RequestTarget.originForm(head("*", method: .OPTIONS))?.uri == "*")
    }
}
