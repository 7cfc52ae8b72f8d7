import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Document kinds and the envelope")
struct DocumentKindsTests {
    @Test("a multi-document file yields the Mesh, the Function, the Istio policy (enforced) and a notice for the unsupported kind")
    func multiDocument() throws {
        let yaml = """
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata:
          name: mesh
        spec:
          trustDomain: example.org
          domain: fn.example.org
          listeners:
            ingress: "0.0.0.0:0"
            admin: ":9901"
        ---
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: hello
          namespace: team-a
        spec:
          process:
            command: ["./hello"]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: allow-all
          namespace: team-a
        spec:
          action: ALLOW
          rules: [{}]
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          ports: [{port: 80}]
        ---
        """
        let snapshot = try ConfigLoader.load(yaml: yaml, file: "all.yaml")
        #expect(snapshot.mesh.trustDomain == "example.org")
        #expect(snapshot.mesh.rootNamespace == "istio-system")
        #expect(snapshot.mesh.domain == "fn.example.org")
        #expect(snapshot.mesh.ingress == ListenAddress(host: "0.0.0.0", port: 0))
        #expect(snapshot.mesh.admin == ListenAddress(host: "127.0.0.1", port: 9901))
        #expect(snapshot.mesh.source?.line == 1)
        #expect(snapshot.functions.map(\.key) == [FunctionKey(namespace: "team-a", name: "hello")])
        #expect(snapshot.istioResources == [IstioResource(
            apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", namespace: "team-a", name: "allow-all",
            source: .init(file: "all.yaml", line: 21, column: 1))])
        #expect(snapshot.authorizationPolicies.map(\.reference) == ["team-a/allow-all"])
        #expect(snapshot.notices.map(\.description) == [
            "all.yaml:30:1: v1 Service default/web: not supported (ignored)",
        ])
    }

    @Test("Kubernetes metadata noise and status are ignored")
    func kubernetesNoise() throws {
        let yaml = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: hello
          uid: 6f1c7a4e-0000-4000-8000-000000000000
          resourceVersion: "12345"
          generation: 3
          creationTimestamp: "2024-01-01T00:00:00Z"
          annotations:
            kubectl.kubernetes.io/last-applied-configuration: "{}"
          managedFields:
            - manager: kubectl
          ownerReferences: []
          finalizers: ["x"]
          selfLink: /apis/gatehouse.dev/v1/functions/hello
        spec:
          process:
            command: ["./hello"]
        status:
          ready: true
          conditions: [{type: Ready}]
        """
        let snapshot = try ConfigLoader.load(yaml: yaml, file: "f.yaml")
        #expect(snapshot.functions.map(\.name) == ["hello"])
        #expect(snapshot.notices.isEmpty)
    }

    @Test("a typo in metadata of a Gatehouse kind is still caught")
    func metadataTypo() {
        let found = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: hello
          namepsace: team-a
        spec:
          process: {command: ["./hello"]}
        """)
        #expect(found.map(\.field) == ["metadata.namepsace"])
        #expect(found.first?.fix == "did you mean `namespace`?")
    }

    @Test("an Istio kind under a version Istio does not serve is an error naming the served versions")
    func istioWrongVersion() {
        let found = diagnostics("""
        apiVersion: security.istio.io/v1alpha1
        kind: AuthorizationPolicy
        metadata:
          name: deny
        spec: {}
        """)
        #expect(found.count == 1)
        #expect(found.first?.field == "apiVersion")
        #expect(found.first?.location.line == 1)
        #expect(found.first?.message
            == "AuthorizationPolicy is not served under \"security.istio.io/v1alpha1\"; Istio serves it as security.istio.io/v1, security.istio.io/v1beta1")
        #expect(found.first?.fix == "write `apiVersion: security.istio.io/v1`")
    }

    @Test("the Kubernetes Gateway API's Gateway is not mistaken for Istio's")
    func gatewayAPI() throws {
        let snapshot = try ConfigLoader.load(yaml: """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw}
        """, file: "gw.yaml")
        #expect(snapshot.istioResources.isEmpty)
        #expect(snapshot.notices.map(\.message) == ["gateway.networking.k8s.io/v1 Gateway default/gw: not supported (ignored)"])
    }

    @Test("gatehouse.dev serves its own kinds (Function, Mesh, the policies) under v1 only")
    func gatehouseKindsAndVersions() {
        let badKind = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Funtion
        metadata: {name: f}
        """)
        #expect(badKind.map(\.field) == ["kind"])
        #expect(badKind.first?.message.contains("Function, Mesh") == true)
        #expect(badKind.first?.fix == "did you mean `Function`?")

        let misspelled = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: DelegationPolcy
        metadata: {name: d}
        """)
        #expect(misspelled.first?.message
            == "unknown kind \"DelegationPolcy\" for gatehouse.dev/v1; known kinds: Function, Mesh, RateLimitPolicy, LoginPolicy, DelegationPolicy")
        #expect(misspelled.first?.fix == "did you mean `DelegationPolicy`?")

        let badVersion = diagnostics(functionDocument().replacingOccurrences(of: "gatehouse.dev/v1", with: "gatehouse.dev/v2"))
        #expect(badVersion.map(\.field) == ["apiVersion"])
        #expect(badVersion.first?.fix == "write `apiVersion: gatehouse.dev/v1`")
    }

    @Test("apiVersion, kind and metadata.name are required in every document")
    func envelopeRequired() {
        let found = diagnostics("""
        kind: Service
        metadata:
          namespace: x
        ---
        apiVersion: v1
        """)
        #expect(found.map(\.field) == ["apiVersion", "metadata.name", "kind", "metadata"])
    }

    @Test("unknown top-level keys are errors for Gatehouse kinds only")
    func topLevelKeys() throws {
        let found = diagnostics(functionDocument() + "specs: {}\n")
        #expect(found.map(\.field) == ["specs"])
        #expect(found.first?.fix == "did you mean `spec`?")
        _ = try ConfigLoader.load(yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n", file: "c.yaml")
    }

    @Test("only one Mesh document is allowed")
    func twoMeshes() {
        let mesh = "apiVersion: gatehouse.dev/v1\nkind: Mesh\nmetadata: {name: m}\n"
        let found = diagnostics(mesh + "---\n" + mesh)
        #expect(found.count == 1)
        #expect(found.first?.location.line == 5)
        #expect(found.first?.message.contains("test.yaml:1:1") == true)
    }

    @Test("Mesh listen addresses must be HOST:PORT")
    func badListener() {
        let found = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata: {name: m}
        spec:
          listeners:
            ingress: "localhost"
            admin: 15000
        """)
        #expect(found.map(\.field) == ["spec.listeners.ingress", "spec.listeners.admin"])
        #expect(found.map(\.location.line) == [6, 7])
    }

    @Test("empty documents are skipped")
    func emptyDocuments() throws {
        let snapshot = try ConfigLoader.load(yaml: "---\n# nothing\n---\n" + functionDocument() + "---\n", file: "f.yaml")
        #expect(snapshot.functions.count == 1)
        #expect(try ConfigLoader.load(yaml: "", file: "empty.yaml").functions.isEmpty)
    }
}
