import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding remote functions and DestinationRules")
struct RemoteFunctionDecodingTests {
    @Test("A remote URL decodes to host, port, path prefix and authority; a DestinationRule's files resolve from its file")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: gatehouse.dev/v1
            kind: Function
            metadata: {name: hello, namespace: shop}
            spec:
              remote: {url: "https://europe-west1-demo.cloudfunctions.net/hello/"}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: hello, namespace: shop}
            spec:
              host: hello
              trafficPolicy:
                tls: {mode: MUTUAL, clientCertificate: certs/client.pem, privateKey: /keys/client.key, sni: api.example.com}
                loadBalancer: {simple: ROUND_ROBIN}
            """, file: "/etc/gatehouse/remote.yaml")
        let function = try #require(snapshot.functions.first)
        let remote = try #require(function.remote)
        #expect(remote.secure && remote.host == "europe-west1-demo.cloudfunctions.net" && remote.port == 443)
        #expect(remote.pathPrefix == "/hello" && remote.authority == "europe-west1-demo.cloudfunctions.net")
        #expect(remote.target(for: "/x?y=1") == "/hello/x?y=1")
        let rule = try #require(DestinationRuleSpec.rule(for: function, in: snapshot.destinationRules, rootNamespace: "istio-system"))
        #expect(rule.tls?.mode == .mutual && rule.tls?.sni == "api.example.com")
        #expect(rule.tls?.clientCertificate == "/etc/gatehouse/certs/client.pem" && rule.tls?.privateKey == "/keys/client.key")
        #expect(snapshot.notices.contains { $0.message.contains("trafficPolicy.loadBalancer accepted, not enforced yet") }, "\(snapshot.notices)")
    }

    @Test("Istio's host forms name a function; another namespace's short name does not")
    func hosts() {
        let function = FunctionSpec(name: "hello", namespace: "shop", process: .init(command: []),
                                    remote: try? RemoteEndpoint.parse("https://api.example.com").get())
        for host in ["hello.shop.svc.cluster.local", "hello.shop", "api.example.com"] {
            #expect(DestinationRuleSpec(namespace: "other", name: "r", host: host).names(function), "\(host)")
        }
        #expect(DestinationRuleSpec(namespace: "shop", name: "r", host: "hello").names(function))
        #expect(!DestinationRuleSpec(namespace: "other", name: "r", host: "hello").names(function))
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        (functionDocument(spec: "  remote: {url: \"https://x.example\"}"), "spec.process", "remove `process:` to call the remote URL, or `remote:` to run the process"),
        ("apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: f}\nspec:\n  remote: {url: \"ftp://x.example/\"}\n", "spec.remote.url", "write an absolute URL such as `https://api.example.com/hello`"),
        ("apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: f}\nspec:\n  remote: {url: \"https://user:secret@x.example/\"}\n", "spec.remote.url", "write an absolute URL such as `https://api.example.com/hello`"),
        ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: f\n  trafficPolicy: {tls: {mode: MUTAL}}\n", "spec.trafficPolicy.tls.mode", "write `mode: MUTUAL`"),
        ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: f\n  trafficPolicy: {tls: {mode: MUTUAL}}\n", "spec.trafficPolicy.tls.mode", "add `clientCertificate:` and `privateKey:` (PEM files), or `credentialName:`"),
        ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: f\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL, privateKey: k.pem}}\n", "spec.trafficPolicy.tls.mode", "remove clientCertificate/privateKey/credentialName, or use `mode: MUTUAL`"),
        ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: \"*.example.com\"\n", "spec.host", "write the function's name, e.g. `host: hello`"),
    ])
    func mistakes(_ yaml: String, _ field: String, _ fix: String) {
        let found = diagnostics(yaml)
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
        #expect(!found.description.contains("secret"), "credentials in a URL are not repeated")
    }
}

@Suite("DestinationRule connection pools")
struct ConnectionPoolDecodingTests {
    @Test("connectionPool limits only ever tighten the function's scaling")
    func tightens() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: gatehouse.dev/v1
            kind: Function
            metadata: {name: hello}
            spec:
              process: {command: ["./f"]}
              scaling: {concurrency: 10, maxQueue: 50, maxInstances: 8}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: hello}
            spec:
              host: hello
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 4, connectTimeout: 1s}
                  http: {http1MaxPendingRequests: 200, http2MaxRequests: 12, maxRequestsPerConnection: 100, maxRetries: 3}
                outlierDetection: {consecutiveGatewayErrors: 3, consecutive5xxErrors: 0, baseEjectionTime: 1m, maxEjectionPercent: 50}
            """, file: "dr.yaml")
        let function = try #require(snapshot.functions.first)
        #expect(function.scaling.concurrency == 4, "maxConnections 4 < concurrency 10")
        #expect(function.scaling.maxQueue == 50, "200 pending would loosen it: the function's 50 stays")
        #expect(function.scaling.maxInstances == 3, "12 requests in all at 4 per instance")
        #expect(function.maxRequestsPerConnection == 100)
        #expect(function.outlierDetection == OutlierDetection(
            consecutive5xxErrors: nil, consecutiveGatewayErrors: 3, baseEjectionTime: .seconds(60), maxEjectionPercent: 50))
        #expect(!snapshot.notices.contains { $0.message.contains("connectionPool") }, "\(snapshot.notices)")
    }
}
