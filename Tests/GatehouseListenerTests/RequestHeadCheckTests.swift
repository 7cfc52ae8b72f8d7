import GatehouseCore
@testable import GatehouseListener
import NIOHTTP1
import Testing

@Suite("The request head's checks: framing, target and host, as Envoy refuses them")
struct RequestHeadCheckTests {
    private func head(_ method: HTTPMethod, _ uri: String, _ headers: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    private func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        head(.POST, "/", headers)
    }

    @Test("Only `chunked` is a transfer coding (any case); anything else is 501", arguments: [
        ("chunked", nil), ("Chunked", nil), ("CHUNKED", nil),
        ("gzip, chunked", 501), ("chunked, chunked", 501), ("identity", 501), ("xchunked", 501), ("", 501),
    ] as [(String, Int?)])
    func transferCodings(_ value: String, _ status: Int?) {
        let result = RequestHeadCheck.check(head([("host", "h"), ("transfer-encoding", value)]))
        switch result {
        case .success: #expect(status == nil, "\(value) should be refused")
        case .failure(let error): #expect(error.code == GatehouseError.Code.unsupportedTransferCoding && status == 501, "\(value): \(error)")
        }
    }

    @Test("Framing that could be read two ways is 400", arguments: [
        [("transfer-encoding", "chunked"), ("content-length", "5")],
        [("content-length", "5"), ("content-length", "5")],
        [("content-length", "5, 5")],
        [("content-length", "+5")],
        [("content-length", "")],
    ])
    func ambiguous(_ framing: [(String, String)]) {
        guard case .failure(let error) = RequestHeadCheck.check(head([("host", "h")] + framing)) else {
            Issue.record("\(framing) should be refused")
            return
        }
        #expect(error.code == GatehouseError.Code.badRequest)
    }

    @Test("The forwarded framing is the parsed one, whatever its spelling")
    func framing() {
        #expect(RequestHeadCheck.framing(head([("host", "h"), ("Transfer-Encoding", "Chunked")])) == .chunked)
        #expect(RequestHeadCheck.framing(head([("host", "h"), ("Content-Length", "12")])) == .length("12"))
        // NIO hands over `Content-Length:2 ` and `Chunked ` with their trailing space (FuzzRequestHead):
        // the checked head carries what was checked.
        let spaced = try? RequestHeadCheck.check(head([("host", "h"), ("Content-Length", "2 \t")])).get()
        #expect(spaced?.headers["content-length"] == ["2"])
        #expect(spaced.map(RequestHeadCheck.framing) == .length("2"))
        let coding = try? RequestHeadCheck.check(head([("host", "h"), ("Transfer-Encoding", "Chunked ")])).get()
        #expect(coding?.headers["transfer-encoding"] == ["chunked"])
        #expect(RequestHeadCheck.framing(head(.GET, "/", [("host", "h")])) == .none)
    }

    @Test("TRACE must not carry a body", arguments: [[("content-length", "3")], [("transfer-encoding", "chunked")]])
    func trace(_ framing: [(String, String)]) {
        guard case .failure(let error) = RequestHeadCheck.check(head(.TRACE, "/", [("host", "h")] + framing)) else {
            Issue.record("TRACE with \(framing) should be refused")
            return
        }
        #expect(error.reason == "body_not_allowed")
        #expect((try? RequestHeadCheck.check(head(.TRACE, "/", [("host", "h"), ("content-length", "0")])).get()) != nil)
    }

    // `/docs/../?dmidmin#x`: a fragment after the query passed (FuzzRequestHead).
    @Test("A fragment (in the query too), or an escape that decodes to NUL, is 400", arguments: [
        "/admin#", "/admin#x", "/a%00b", "/%00", "/a?b#c", "/docs/../?dmidmin#x", "/p?x#/../admin",
    ])
    func targets(_ target: String) {
        guard case .failure(let error) = RequestHeadCheck.check(head(.GET, target, [("host", "h")])) else {
            Issue.record("\(target) should be refused")
            return
        }
        #expect(error.code == GatehouseError.Code.badRequest)
    }

    // An in-process caller's target (an async call's callback) never went through the HTTP parser.
    @Test("A raw control character, space or non-ASCII byte in the target is 400", arguments: [
        "/cb HTTP/1.1\r\nX-Forwarded-Client-Cert: URI=spiffe://x\r\nX: y", "/a\nb", "/a\u{7F}", "/caf\u{E9}", "/a?q=\r\n", "/a\tb",
    ])
    func rawTargets(_ target: String) {
        guard case .failure(let error) = RequestHeadCheck.check(head(.GET, target, [("host", "h")])) else {
            Issue.record("\(target.debugDescription) should be refused")
            return
        }
        #expect(error.reason == "invalid_path")
    }

    @Test("A query may hold what a path may not", arguments: ["/a?x=%00", "/a?q=1%23"])
    func queries(_ target: String) {
        #expect((try? RequestHeadCheck.check(head(.GET, target, [("host", "h")])).get()) != nil)
    }

    @Test("The host is made canonical once: lower case, no trailing dot, the port kept", arguments: [
        ("secret.default.localhost.", "secret.default.localhost"),
        ("SECRET.Default.LOCALHOST", "secret.default.localhost"),
        ("Secret.default.localhost.:8080", "secret.default.localhost:8080"),
        ("[::1]:8080", "[::1]:8080"),
        ("127.0.0.1", "127.0.0.1"),
    ])
    func hosts(_ sent: String, _ canonical: String) throws {
        let checked = try RequestHeadCheck.check(head(.GET, "/", [("host", sent)])).get()
        #expect(checked.headers["host"] == [canonical])
    }

    @Test("No Host on HTTP/1.1, two of them, or one that is not host[:port] is 400", arguments: [
        [], [("host", "a"), ("host", "b")], [("host", "a b")], [("host", "a/b")], [("host", "a:x")], [("host", "user@a")],
        [("host", ".")], [("host", "a:123456")], [("host", "a:99999")], [("host", ".a")],
        // Empty labels: `a..` was `a.` after one check and `a` after routing's (FuzzRequestHead, review).
        [("host", "hello.default.localhost..")], [("host", "a..:80")], [("host", "a..b")], [("host", "victim.default.localhost..:8080")],
    ])
    func badHosts(_ hosts: [(String, String)]) {
        guard case .failure(let error) = RequestHeadCheck.check(head(.GET, "/", hosts)) else {
            Issue.record("\(hosts) should be refused")
            return
        }
        #expect(error.reason == "invalid_host")
    }

    @Test("HTTP/1.0 may leave Host out")
    func http10() {
        #expect((try? RequestHeadCheck.check(head(.GET, "/", [], version: .http1_0)).get()) != nil)
    }
}
