import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding VirtualService")
struct VirtualServiceDecodingTests {
    static func document(_ http: String, hosts: String = "[hello]") -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: hello}
        spec: {process: {command: ["./f"]}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: \(hosts)
          http:
        \(http)
        """
    }

    @Test("Routes decode; fields not enforced yet are named in a notice")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.document("""
              - name: main
                match: [{uri: {prefix: /api}, headers: {X-Env: {exact: prod}}}]
                route: [{destination: {host: hello}}]
                retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,reset,409"}
                fault: {delay: {fixedDelay: 1s, percentage: {value: 12.5}}}
                mirrors: [{destination: {host: hello}}, {destination: {host: hello.default}, percentage: {value: 5}}]
                timeout: 5s
            """), file: "vs.yaml")
        let route = try #require(snapshot.virtualServices.first?.http.first)
        #expect(route.name == "main" && route.timeout == .seconds(5))
        #expect(route.match.first?.headers["x-env"] == .exact("prod"), "header names are lower-cased")
        #expect(route.retries == RetryPolicy(attempts: 3, perTryTimeout: .seconds(2), conditions: [.gatewayError, .reset, .retriableStatusCodes], statusCodes: [409]))
        #expect(route.fault?.delay?.percent == 12.5 && route.fault?.delay?.duration == .seconds(1))
        #expect(route.mirrors == [.init(destination: .init(host: "hello")), .init(destination: .init(host: "hello.default"), percent: 5)])
    }

    @Test("A mirror host that names no function is a notice, not an error: no copies are sent")
    func unknownMirror() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.document("      - route: [{destination: {host: hello}}]\n        mirror: {host: elsewhere}"), file: "vs.yaml")
        #expect(snapshot.notices.contains { $0.message.contains("mirror host \"elsewhere\" names no function; no copies are sent") }, "\(snapshot.notices)")
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        ("      - route: [{destination: {host: helo}}]", "spec.http.route.destination.host", "did you mean \"hello\"?"),
        ("      - route: [{destination: {host: hello}, weight: 60}, {destination: {host: hello}, weight: 30}]", "spec.http[0].route", "give every destination a `weight:` so that they add up to 100"),
        ("      - match: [{uri: {prefix: /}}]", "spec.http[0].route", "keep exactly one of `route`, `redirect`, `directResponse`"),
        ("      - redirect: {uri: /x}\n        directResponse: {status: 200}", "spec.http[0].redirect", "keep exactly one of `route`, `redirect`, `directResponse`"),
        ("      - match: [{uri: {prefix: /, exact: /}}]\n        route: [{destination: {host: hello}}]", "spec.http[0].match[0].uri", "write e.g. `{prefix: /api/}`"),
        ("      - match: [{uri: {regex: \"(\"}}]\n        route: [{destination: {host: hello}}]", "spec.http[0].match[0].uri", "write an RE2 regular expression, e.g. \"/v[0-9]+/.*\""),
        ("      - route: [{destination: {host: hello}}]\n        mirror: {host: hello}\n        mirrors: [{destination: {host: hello}}]", "spec.http[0].mirrors", "move the `mirror` into `mirrors`"),
        ("      - route: [{destination: {host: hello}}]\n        mirrors: [{destination: {host: hello}, percentage: {value: 120}}]", "spec.http[0].mirrors[0].percentage.value", "write e.g. `percentage: {value: 10}`"),
        ("      - route: [{destination: {host: hello}}]\n        mirrors: [{destination: {host: hello}}]\n        mirrorPercentage: {value: 5}", "spec.http[0].mirrorPercentage", "give each `mirrors` entry its own `percentage`"),
        ("      - redirect: {uri: /x, redirectCode: 200}", "spec.http[0].redirect.redirectCode", "write 301, 302, 303, 307 or 308"),
        ("      - route: [{destination: {host: hello}}]\n        retries: {attempts: 2, retryOn: \"5xx,connect-falure\"}", "spec.http[0].retries.retryOn", "write `connect-failure`"),
        ("      - route: [{destination: {host: hello}}]\n        fault: {abort: {httpStatus: 700, percentage: {value: 5}}}", "spec.http[0].fault.abort.httpStatus", "write e.g. `httpStatus: 503`"),
        ("      - route: [{destination: {host: hello}}]\n        headers: {response: {set: {Content-Length: \"0\", x-ok: \"1\"}}}", "spec.http[0].headers.response.set", "remove it from `set`"),
        ("      - route: [{destination: {host: hello}}]\n        headers: {request: {remove: [transfer-encoding, connection]}}", "spec.http[0].headers.request.remove", "remove them from `remove`"),
    ])
    func mistakes(_ http: String, _ field: String, _ fix: String) {
        let found = diagnostics(Self.document(http))
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }
}
