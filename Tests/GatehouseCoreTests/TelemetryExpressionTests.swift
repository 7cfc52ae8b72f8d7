import GatehouseCore
import Testing

/// Access log filters: the CEL forms Gatehouse evaluates, compiled once, with CEL's error rules.
@Suite("Telemetry filter expressions")
struct TelemetryExpressionTests {
    static func request(
        code: Int = 200, method: String = "GET", headers: [(String, String)] = [], duration: Duration = .milliseconds(5)
    ) -> RequestRecord {
        var record = RequestRecord(
            requestId: "r1", startWallNanos: 0, start: .now, method: method, path: "/api/v1?x=1", httpProtocol: "HTTP/1.1",
            authority: "hello.default.localhost:8080")
        record.responseCode = code
        record.duration = duration
        if !headers.isEmpty { record.extensions[TelemetryHeaders.self] = TelemetryHeaders(values: headers) }
        return record
    }

    static func matches(_ text: String, _ record: RequestRecord) throws -> Bool {
        try TelemetryExpression(parsing: text).matches(record)
    }

    @Test("Comparisons of response.code", arguments: [
        ("response.code >= 400", 404, true), ("response.code >= 400", 200, false), ("response.code == 503", 503, true),
        ("response.code != 200", 200, false), ("response.code < 300", 204, true), ("response.code <= 299", 300, false),
        ("response.code > 499", 500, true), ("500 <= response.code", 503, true),
    ])
    func responseCode(_ text: String, _ code: Int, _ expected: Bool) throws {
        #expect(try Self.matches(text, Self.request(code: code)) == expected)
    }

    @Test("Methods, headers, durations, and &&, ||, !, ( )")
    func combinations() throws {
        let post = Self.request(code: 500, method: "POST", headers: [("x-foo", "bar")], duration: .milliseconds(1500))
        #expect(try Self.matches("request.method == 'POST'", post))
        #expect(try Self.matches(#"request.method == "GET""#, post) == false)
        #expect(try Self.matches("request.headers['x-foo'] == 'bar'", post))
        #expect(try Self.matches("request.headers['X-Foo'] == 'bar'", post), "header names are case-insensitive")
        #expect(try Self.matches("response.duration > duration('1s')", post))
        #expect(try Self.matches("response.duration > duration('2s')", post) == false)
        #expect(try Self.matches("response.code >= 500 && request.method == 'POST'", post))
        #expect(try Self.matches("response.code < 400 || request.method == 'POST'", post))
        #expect(try Self.matches("!(response.code >= 500)", post) == false)
        #expect(try Self.matches("!(response.code < 400 || request.method == 'GET') && true", post))
        #expect(try Self.matches("request.host == 'hello.default.localhost:8080' && request.url_path == '/api/v1'", post))
    }

    @Test("An absent header is a CEL error: it matches neither == nor !=, and || can still rescue it")
    func absentHeader() throws {
        let record = Self.request(code: 500)
        #expect(try Self.matches("request.headers['x-foo'] == 'bar'", record) == false)
        #expect(try Self.matches("request.headers['x-foo'] != 'bar'", record) == false)
        #expect(try Self.matches("!(request.headers['x-foo'] == 'bar')", record) == false)
        #expect(try Self.matches("request.headers['x-foo'] == 'bar' || response.code >= 500", record))
        #expect(try Self.matches("request.headers['x-foo'] == 'bar' && response.code >= 500", record) == false)
        #expect(try Self.matches("response.code >= 400", Self.request(code: 0)) == false, "no response was sent")
    }

    @Test("Outside the subset: refused at config time with the reason", arguments: [
        ("response.code >= '400'", "cannot compare"),
        ("response.duration > 1000", "duration('1s')"),
        ("request.useragent.startsWith('curl')", "not an attribute"),
        ("response.code >= 400 && request.headers['x'] =~ 'a'", "not part of the supported subset"),
        ("has(request.headers['x'])", "not an attribute"),
        ("response.code >=", "ends too early"),
        ("(response.code >= 400", "missing `)`"),
        ("response.code", "expected a comparison"),
        ("connection.mtls == 'true'", "not an attribute"),
        ("", "empty"),
    ])
    func refused(_ text: String, _ reason: String) {
        #expect {
            _ = try TelemetryExpression(parsing: text)
        } throws: { error in
            (error as? TelemetryExpressionError)?.message.contains(reason) == true
        }
    }

    @Test("Tag values: an attribute or a string literal")
    func tagValues() throws {
        let record = Self.request(headers: [("x-tenant", "acme")])
        let headers = record.extensions[TelemetryHeaders.self]
        #expect(try TelemetryOperand(parsingTagValue: "request.host").value(of: record, headers: headers) == .string("hello.default.localhost:8080"))
        #expect(try TelemetryOperand(parsingTagValue: "request.headers['x-tenant']").value(of: record, headers: headers) == .string("acme"))
        #expect(try TelemetryOperand(parsingTagValue: "'fixed'").value(of: record, headers: headers) == .string("fixed"))
        #expect(throws: TelemetryExpressionError.self) { try TelemetryOperand(parsingTagValue: "request.host == 'x'") }
        #expect(throws: TelemetryExpressionError.self) { try TelemetryOperand(parsingTagValue: "42") }
    }

    @Test("A hostile expression is refused at config time, never a crash: deep nesting, long chains")
    func bounded() {
        let nested = String(repeating: "(", count: 10_000) + "response.code == 200" + String(repeating: ")", count: 10_000)
        #expect(throws: TelemetryExpressionError.self) { try TelemetryExpression(parsing: nested) }
        let negated = String(repeating: "!", count: 100) + "true"
        #expect(throws: TelemetryExpressionError.self) { try TelemetryExpression(parsing: negated) }
        let chain = Array(repeating: "response.code == 200", count: 1_000).joined(separator: " && ")
        #expect(throws: TelemetryExpressionError.self) { try TelemetryExpression(parsing: chain) }
        let fine = String(repeating: "(", count: 30) + "response.code == 200" + String(repeating: ")", count: 30)
        #expect((try? TelemetryExpression(parsing: fine)) != nil)
    }
}
