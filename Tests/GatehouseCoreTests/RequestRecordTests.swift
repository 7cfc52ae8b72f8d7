import GatehouseCore
import Testing

@Suite("The request record: one path, one host, typed extensions")
struct RequestRecordTests {
    static func record(_ target: String, authority: String = "Hello.default.localhost:8080") -> RequestRecord {
        RequestRecord(requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: target, httpProtocol: "HTTP/1.1", authority: authority)
    }

    @Test("The path is normalized once, at the front; the query is kept as sent", arguments: [
        ("/a/./b/../c?x=/../y", "/a/c?x=/../y"),
        ("/%61dmin", "/admin"),
        ("/a\\b", "/a/b"),
        ("/plain?q=1", "/plain?q=1"),
        ("*", "*"),
    ])
    func normalizedOnce(target: String, expected: String) {
        let path = Self.record(target).path
        #expect(path.value == expected)
        #expect(RequestPath(path.value).value == path.value, "normalizing again changes nothing")
    }

    @Test("A rewrite replaces the path and keeps what it was for the log; tokens are redacted in the log only")
    func rewriteAndLog() {
        var record = Self.record("/old/x?access_token=secret")
        record.path.rewrite(to: "/new/../next/x?access_token=secret")
        #expect(record.path.value == "/next/x?access_token=secret", "a rewrite cannot reintroduce dot segments")
        #expect(record.path.beforeRewrite == "/old/x?access_token=secret")
        #expect(record.path.path == "/next/x" && record.path.query == "?access_token=secret")
        record.path.redacted = "/old/x?access_token=…"
        #expect(record.path.logged == "/old/x?access_token=…")
    }

    @Test("host is the authority without its port, kept in step when the authority changes")
    func host() {
        var record = Self.record("/", authority: "hello.default.localhost:8080")
        #expect(record.host == "hello.default.localhost")
        record.authority = "[::1]:9"
        #expect(record.host == "[::1]")
        record.authority = "api.example.com."
        #expect(record.host == "api.example.com")
    }

    enum Session: RecordExtensionKey { typealias Value = String }
    enum Attempt: RecordExtensionKey { typealias Value = Int }

    @Test("Extensions are typed per key and do not collide")
    func extensions() {
        var record = Self.record("/")
        #expect(record.extensions.isEmpty && record.extensions[Session.self] == nil)
        record.extensions[Session.self] = "alice"
        record.extensions[Attempt.self] = 2
        record.extensions[Attempt.self] = 3
        #expect(record.extensions[Session.self] == "alice" && record.extensions[Attempt.self] == 3)
        record.extensions[Session.self] = nil
        #expect(record.extensions[Session.self] == nil && record.extensions[Attempt.self] == 3)
    }
}

@Suite("Credentials in the query are redacted in what is written down, whatever policy applies")
struct QueryRedactionTests {
    @Test("Well-known credential parameters become REDACTED in `logged`; the value the function gets is unchanged",
          arguments: [
            ("/a?access_token=s3cret&x=1", "/a?access_token=REDACTED&x=1"),
            ("/a?x=1&API_KEY=k&sig=abc", "/a?x=1&API_KEY=REDACTED&sig=REDACTED"),
            ("/cb?code=xyz&state=ok&other=1", "/cb?code=REDACTED&state=REDACTED&other=1"),
            ("/a?acc%65ss_token=s", "/a?acc%65ss_token=REDACTED"),
            ("/a?plain=1", "/a?plain=1"),
          ])
    func redacted(target: String, logged: String) {
        let path = RequestPath(target)
        #expect(path.value == target)
        #expect(path.logged == logged)
    }
}
