import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Function documents")
struct FunctionDecodingTests {
    @Test("every field of a Function is decoded")
    func fullFunction() throws {
        let yaml = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: greeter
          namespace: shop
          labels:
            app: greeter
            tier: "1"
        spec:
          process:
            command: ["python3", "main.py"]
            args: ["--verbose"]
            env:
              - name: LOG_LEVEL
                value: debug
              - name: WORKERS
                value: 4
              - name: DEBUG
                value: true
            workingDir: /srv/greeter
          serviceAccount: greeter-sa
          scaling:
            minInstances: 1
            maxInstances: 5
            concurrency: 20
            maxQueue: 50
          timeout: "30s"
          idleTimeout: "2m"
          startupTimeout: "1500ms"
          functionTarget: greet
          signatureType: http
        """
        let snapshot = try ConfigLoader.load(yaml: yaml, file: "greeter.yaml")
        let function = try #require(snapshot.function(FunctionKey(namespace: "shop", name: "greeter")))
        #expect(function.labels == ["app": "greeter", "tier": "1"])
        #expect(function.process.command == ["python3", "main.py"])
        #expect(function.process.args == ["--verbose"])
        #expect(function.process.env == [
            .init(name: "LOG_LEVEL", value: "debug"),
            .init(name: "WORKERS", value: "4"),
            .init(name: "DEBUG", value: "true"),
        ])
        #expect(function.process.workingDir == "/srv/greeter")
        #expect(function.serviceAccount == "greeter-sa")
        #expect(function.scaling == .init(minInstances: 1, maxInstances: 5, concurrency: 20, maxQueue: 50))
        #expect(function.timeout == .seconds(30))
        #expect(function.idleTimeout == .seconds(120))
        #expect(function.startupTimeout == .milliseconds(1500))
        #expect(function.functionTarget == "greet")
        #expect(function.signatureType == "http")
        #expect(function.source == GatehouseCore.SourceLocation(file: "greeter.yaml", line: 1, column: 1))
    }

    @Test("omitted fields take the Cloud Run / Knative defaults")
    func defaults() throws {
        let snapshot = try ConfigLoader.load(yaml: functionDocument(), file: "f.yaml")
        let function = try #require(snapshot.functions.first)
        #expect(function.namespace == "default")
        #expect(function.labels.isEmpty)
        #expect(function.process == .init(command: ["./server"]))
        #expect(function.serviceAccount == "default")
        #expect(function.scaling == .init(minInstances: 0, maxInstances: 10, concurrency: 80, maxQueue: 100))
        #expect(function.timeout == .seconds(300))
        #expect(function.idleTimeout == .seconds(60))
        #expect(function.startupTimeout == .seconds(30))
        #expect(function.functionTarget == nil)
        #expect(function.signatureType == nil)
        #expect(snapshot.mesh == MeshSpec())
    }

    @Test("functions are sorted by namespace, then name")
    func sorted() throws {
        let yaml = [
            functionDocument(name: "zeta"),
            functionDocument(name: "alpha"),
            functionDocument(name: "beta").replacingOccurrences(of: "name: beta", with: "name: beta\n  namespace: aaa"),
        ].joined(separator: "\n---\n")
        let snapshot = try ConfigLoader.load(yaml: yaml, file: "f.yaml")
        #expect(snapshot.functions.map(\.key.description) == ["aaa/beta", "default/alpha", "default/zeta"])
    }

    @Test("an unknown field is reported at its line with a did-you-mean fix")
    func unknownField() {
        let found = diagnostics(functionDocument(spec: """
          scalling:
            maxInstances: 3
        """))
        #expect(found.count == 1)
        let diagnostic = found.first
        #expect(diagnostic?.location == GatehouseCore.SourceLocation(file: "test.yaml", line: 8, column: 3))
        #expect(diagnostic?.field == "spec.scalling")
        #expect(diagnostic?.message.contains("`scaling`") == true)
        #expect(diagnostic?.fix == "did you mean `scaling`?")
    }

    @Test("inheritEnv and runAsUser decode; root and names with `=` are refused at their line")
    func isolationFields() throws {
        let snapshot = try ConfigLoader.load(yaml: functionDocument().replacingOccurrences(
            of: "command: [\"./server\"]", with: "command: [\"./server\"]\n    inheritEnv: [AWS_REGION]\n    runAsUser: 70000\n    runAsGroup: 70001"),
            file: "f.yaml")
        let process = try #require(snapshot.functions.first).process
        #expect(process.inheritEnv == ["AWS_REGION"])
        #expect(process.runAsUser == 70000 && process.runAsGroup == 70001)
        for (field, value) in [("runAsUser", "0"), ("runAsGroup", "0"), ("inheritEnv", "[\"A=B\"]")] {
            let found = diagnostics(functionDocument().replacingOccurrences(
                of: "command: [\"./server\"]", with: "command: [\"./server\"]\n    \(field): \(value)"))
            #expect(found.first?.field == "spec.process.\(field)", "\(field): \(value)")
            #expect(found.first?.location.line == 8, "\(found)")
        }
    }

    @Test("protocol: h2c decodes (default http1); an unknown protocol is refused at its line with the choices")
    func upstreamProtocol() throws {
        let plain = try ConfigLoader.load(yaml: functionDocument(), file: "f.yaml")
        #expect(try #require(plain.functions.first).process.protocol == .http1)
        let h2c = try ConfigLoader.load(yaml: functionDocument().replacingOccurrences(
            of: "command: [\"./server\"]", with: "command: [\"./server\"]\n    protocol: h2c"), file: "f.yaml")
        #expect(try #require(h2c.functions.first).process.protocol == .h2c)
        let found = diagnostics(functionDocument().replacingOccurrences(
            of: "command: [\"./server\"]", with: "command: [\"./server\"]\n    protocol: grpc"))
        #expect(found.first?.field == "spec.process.protocol", "\(found)")
        #expect(found.first?.location.line == 8)
        #expect(found.first?.fix?.contains("h2c") == true)
    }

    @Test("a Function may not run as a service account Gatehouse keeps for itself", arguments: ["gatehouse-audit", "gatehouse", "gatehouse-broker.default.orders"])
    func reservedServiceAccount(account: String) {
        let found = diagnostics(functionDocument(spec: "  serviceAccount: \(account)"))
        #expect(found.map(\.field) == ["spec.serviceAccount"], "\(found)")
        #expect(found.first?.message.contains("reserved for Gatehouse itself") == true)
        #expect(found.first?.fix == "write another name, e.g. `serviceAccount: hello`")
    }

    @Test("a word where a number belongs names the field, the value and an example")
    func wrongType() {
        let found = diagnostics(functionDocument(spec: """
          scaling:
            maxInstances: ten
        """))
        #expect(found == [ConfigDiagnostic(
            location: .init(file: "test.yaml", line: 9, column: 19),
            field: "spec.scaling.maxInstances",
            message: "expected an integer, got \"ten\"",
            fix: "write a whole number, e.g. 10")])
        #expect(found.first?.description
            == "test.yaml:9:19: spec.scaling.maxInstances: expected an integer, got \"ten\" (fix: write a whole number, e.g. 10)")
    }

    @Test("durations must be Go duration strings", arguments: [
        ("timeout: 300", "expected a duration string, got 300"),
        ("timeout: \"5 minutes\"", "invalid duration \"5 minutes\""),
        ("idleTimeout: \"0s\"", "must be greater than 0, got \"0s\""),
    ])
    func badDuration(line: String, message: String) {
        let found = diagnostics(functionDocument(spec: "  " + line))
        #expect(found.map(\.message) == [message])
        #expect(found.first?.location.line == 8)
        #expect(found.first?.fix == "write a duration such as \"300s\" or \"500ms\"")
    }

    @Test("minInstances above maxInstances is reported on minInstances")
    func minAboveMax() {
        let found = diagnostics(functionDocument(spec: """
          scaling:
            minInstances: 4
            maxInstances: 2
        """))
        #expect(found.map(\.field) == ["spec.scaling.minInstances"])
        #expect(found.first?.location.line == 9)
        #expect(found.first?.message == "minInstances (4) is greater than maxInstances (2)")
    }

    @Test("scaling values outside their range are reported", arguments: [
        ("maxInstances: 0", "spec.scaling.maxInstances", "must be at least 1, got 0"),
        ("minInstances: -1", "spec.scaling.minInstances", "must be at least 0, got -1"),
        ("concurrency: 1001", "spec.scaling.concurrency", "must be at most 1000, got 1001"),
        ("maxQueue: 100001", "spec.scaling.maxQueue", "must be at most 100000, got 100001"),
    ])
    func outOfRange(line: String, field: String, message: String) {
        let found = diagnostics(functionDocument(spec: "  scaling:\n    " + line))
        #expect(found.map(\.field) == [field])
        #expect(found.map(\.message) == [message])
    }

    @Test("the same Function twice is reported at the second, naming the first")
    func duplicate() {
        let yaml = functionDocument() + "\n---\n" + functionDocument()
        let found = diagnostics(yaml)
        #expect(found.count == 1)
        #expect(found.first?.location.line == 13)
        #expect(found.first?.field == "metadata.name")
        #expect(found.first?.message == "duplicate Function default/hello; first defined at test.yaml:1:1")
    }

    @Test("duplicates are found across files too")
    func duplicateAcrossFiles() {
        do {
            _ = try ConfigLoader.load(sources: [(file: "a.yaml", yaml: functionDocument()), (file: "b.yaml", yaml: functionDocument())])
            Issue.record("expected a duplicate error")
        } catch {
            #expect(error.diagnostics.map(\.location.file) == ["b.yaml"])
            #expect(error.diagnostics.first?.message.contains("a.yaml:1:1") == true)
        }
    }

    @Test("names must be DNS-1123 labels")
    func badName() {
        let found = diagnostics(functionDocument(name: "My_Func"))
        #expect(found.map(\.field) == ["metadata.name"])
        #expect(found.first?.location.line == 4)
        #expect(found.first?.fix == "write `name: my-func`")
    }

    @Test("process.command is required and must not be empty")
    func command() {
        let missing = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: f}
        spec:
          process:
            args: ["x"]
        """)
        #expect(missing.map(\.field) == ["spec.process.command"])
        #expect(missing.first?.location.line == 6)
        let empty = diagnostics(functionDocument().replacingOccurrences(of: "[\"./server\"]", with: "[]"))
        #expect(empty.map(\.field) == ["spec.process.command"])
    }

    @Test("env entries need a name and a value; paths carry the index")
    func env() {
        let found = diagnostics(functionDocument(spec: """
            env:
              - name: A
                value: "1"
              - name: B
              - value: x
                valueFrom: {}
        """))
        #expect(found.map(\.field) == ["spec.process.env[1].value", "spec.process.env[2].name", "spec.process.env[2].valueFrom"])
    }

    @Test("signatureType must be one the Functions Framework knows")
    func signatureType() {
        let found = diagnostics(functionDocument(spec: "  signatureType: cloudevents"))
        #expect(found.map(\.field) == ["spec.signatureType"])
        #expect(found.first?.fix == "write `signatureType: cloudevent`")
    }
}
