import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Revisions: spec.traffic, DestinationRule subsets, and their resolution against stored revisions")
struct RevisionTests {
    /// `hello` at generation 3, with revisions 1 and 2 stored (2 labelled `version: v2`), resolved
    /// as an apply does (not leniently first, as files alone are).
    static func resolved(_ extra: String, traffic: String = "") throws(ConfigError) -> ConfigSnapshot {
        var snapshot = try ConfigLoader.load(
            sources: [("test.yaml", functionDocument(spec: traffic) + extra)], resolvingRevisions: false)
        snapshot.functions[0].generation = 3
        // Stored revisions are kept as written, before any DestinationRule.
        let old = try ConfigLoader.load(yaml: functionDocument(), file: "test.yaml").functions[0]
        var second = old.atGeneration(2)
        second.labels["version"] = "v2"
        second.scaling.concurrency = 7
        try RevisionResolver.resolve(&snapshot, revisions: [old.atGeneration(1).revisionKey: old.atGeneration(1), second.revisionKey: second])
        return snapshot
    }

    static func revision(_ number: Int) -> RevisionKey { RevisionKey(function: FunctionKey(namespace: "default", name: "hello"), number: number) }

    @Test("traffic targets decode with percent and tag; the shares must add up to 100")
    func decoding() throws {
        let snapshot = try ConfigLoader.load(yaml: functionDocument(spec: """
              traffic:
              - {revisionName: hello-00001, percent: 10, tag: old}
              - {latestRevision: true, percent: 90}
            """), file: "f.yaml")
        #expect(snapshot.functions[0].traffic.map(\.percent) == [10, 90])
        #expect(snapshot.functions[0].traffic[0].revisionName == "hello-00001" && snapshot.functions[0].traffic[0].tag == "old")
        #expect(snapshot.functions[0].traffic[1].latestRevision)

        let problems = diagnostics(functionDocument(spec: """
              traffic:
              - {revisionName: hello-00001, latestRevision: true, percent: 10, tag: Old}
              - {percent: 80, tag: x, latestRevision: false}
              - {revisionName: bye-00001, percent: 0, tag: x}
            """))
        let messages = problems.map(\.message)
        #expect(messages.contains { $0.contains("not both") })
        #expect(messages.contains { $0.contains("not a valid DNS-1123 label") })
        #expect(messages.contains { $0.contains("`latestRevision: false` needs a revision") })
        #expect(messages.contains { $0.contains("a second target tagged \"x\"") })
        #expect(messages.contains { $0.contains("\"bye-00001\" is not a revision of hello") })
        #expect(messages.contains { $0.contains("add up to 90, not 100") })
        #expect(problems.allSatisfy { $0.location.line > 0 && $0.field.hasPrefix("spec.traffic") })
    }

    @Test("Without traffic the latest revision takes everything and only it serves")
    func latestByDefault() throws {
        let snapshot = try Self.resolved("")
        #expect(snapshot.routing.traffic[FunctionKey(namespace: "default", name: "hello")] == [TrafficShare(revision: Self.revision(3), percent: 100, latest: true)])
        #expect(snapshot.servingRevisions.map(\.revisionKey) == [Self.revision(3)])
    }

    @Test("A split serves every revision with a share or a tag, each with its own spec; 0 % untagged does not serve")
    func split() throws {
        let snapshot = try Self.resolved("", traffic: """
              traffic:
              - {revisionName: hello-00002, percent: 20, tag: beta}
              - {revisionName: hello-00001, percent: 0}
              - {latestRevision: true, percent: 80}
            """)
        #expect(snapshot.servingRevisions.map(\.generation) == [2, 3])
        #expect(snapshot.servingRevisions[0].scaling.concurrency == 7, "revision 2 runs its own spec")
        #expect(snapshot.servingRevisions[0].revision == "hello-00002")
    }

    @Test("Rollback: all traffic to an older revision stops the latest")
    func rollback() throws {
        let snapshot = try Self.resolved("", traffic: "  traffic: [{revisionName: hello-00001, percent: 100}]\n")
        #expect(snapshot.servingRevisions.map(\.generation) == [1])
    }

    @Test("An unknown revision is a diagnostic at its line with the nearest name")
    func unknownRevision() {
        #expect(throws: ConfigError.self) { try Self.resolved("", traffic: "  traffic: [{revisionName: hello-00004, percent: 100}]\n") }
        do {
            _ = try Self.resolved("", traffic: "  traffic: [{revisionName: hello-00004, percent: 100}]\n")
        } catch {
            let problem = error.diagnostics[0]
            #expect(problem.field == "spec.traffic.revisionName")
            #expect(problem.location.line == 8)
            #expect(problem.message.contains("has no revision \"hello-00004\"; it has hello-00001, hello-00002, hello-00003"))
            #expect(problem.fix == "did you mean \"hello-00001\"?")
        }
    }

    static let subsets = """
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: hello}
        spec:
          host: hello
          trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: 50}}}
          subsets:
          - name: stable
            labels: {serving.knative.dev/revision: hello-00001}
            trafficPolicy: {connectionPool: {tcp: {maxConnections: 3}}}
          - {name: v2, labels: {version: v2}}
          - {name: gone, labels: {version: v9}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: hello}
        spec:
          hosts: [hello]
          http:
          - route:
            - {destination: {host: hello, subset: stable}, weight: 60}
            - {destination: {host: hello, subset: v2}, weight: 40}

        """

    @Test("Subsets select revisions by label; a subset's connection pool replaces the rule's for its revision")
    func subsetsSelectRevisions() throws {
        let snapshot = try Self.resolved(Self.subsets)
        let key = FunctionKey(namespace: "default", name: "hello")
        #expect(snapshot.routing.subsets[SubsetKey(function: key, subset: "stable")] == Self.revision(1))
        #expect(snapshot.routing.subsets[SubsetKey(function: key, subset: "v2")] == Self.revision(2))
        #expect(snapshot.servingRevisions.map(\.generation) == [1, 2, 3])
        let stable = snapshot.servingRevisions[0]
        #expect(stable.scaling.concurrency == 3 && stable.scaling.maxQueue == 100, "the subset's pool, not the rule's")
        #expect(snapshot.servingRevisions[1].scaling.maxQueue == 50, "the rule's pool")
    }

    @Test("A subset no DestinationRule defines, or one selecting no revision, is a diagnostic")
    func badSubsets() {
        let cases = [
            ("subset: v2}", "subset: v3}", "subset \"v3\" of hello, which DestinationRule default/hello does not define"),
            ("subset: stable}", "subset: gone}", "subset \"gone\" of DestinationRule default/hello selects no revision of hello"),
        ]
        for (from, to, message) in cases {
            do {
                _ = try Self.resolved(Self.subsets.replacingOccurrences(of: from, with: to))
                Issue.record("expected a diagnostic: \(message)")
            } catch {
                #expect(error.diagnostics.contains { $0.message.contains(message) }, "\(error.diagnostics)")
            }
        }
    }

    @Test("A tag that would take another function's host, or another tag's, or make a label over 63 characters, is refused")
    func tagCollision() throws {
        let cases = [
            ("---\n" + functionDocument(name: "old-hello"), "old", "which Function default/old-hello has"),
            ("---\n" + functionDocument(name: "z-hello", spec: "  traffic: [{percent: 100, tag: a}]"), "a-z", "which tag a-z of default/hello has"),
            ("", String(repeating: "t", count: 60), "longer than 63 characters"),
        ]
        for (extra, tag, message) in cases {
            do {
                let snapshot = try Self.resolved(extra, traffic: "  traffic: [{latestRevision: true, percent: 100, tag: \(tag)}]\n")
                Issue.record("expected a diagnostic for tag \(tag), got \(snapshot.routing)")
            } catch {
                #expect(error.diagnostics.contains { $0.message.contains(message) && $0.field == "spec.traffic.tag" }, "\(error.diagnostics)")
            }
        }
    }

    @Test("A target without a revision follows the latest, as Knative defaults it")
    func latestByKnativeDefault() throws {
        let snapshot = try Self.resolved("", traffic: "  traffic: [{tag: current, percent: 100}]\n")
        #expect(snapshot.routing.traffic[FunctionKey(namespace: "default", name: "hello")] == [TrafficShare(revision: Self.revision(3), percent: 100, tag: "current", latest: true)])
    }

    @Test("Read from files alone, a named revision stands in as the current spec, so explain and test can route")
    func lenient() throws {
        let snapshot = try ConfigLoader.load(yaml: functionDocument(spec: """
              traffic:
              - {revisionName: hello-00004, percent: 100, tag: old}
              - {latestRevision: true, percent: 0, tag: next}

            """) + Self.subsets.replacingOccurrences(of: "subset: v2}", with: "subset: stable}"), file: "f.yaml")
        #expect(snapshot.servingRevisions.map(\.revision) == ["hello-00001", "hello-00004"])
        #expect(snapshot.routing.traffic[FunctionKey(namespace: "default", name: "hello")]?.map(\.revision.number) == [4, 1])
    }

    @Test("Subsets with their own traffic policies on different revisions are fine, stored or read from files")
    func subsetPoliciesOnDifferentRevisions() throws {
        let both = Self.subsets.replacingOccurrences(
            of: "{name: v2, labels: {version: v2}}", with: "{name: v2, labels: {version: v2}, trafficPolicy: {connectionPool: {tcp: {maxConnections: 9}}}}")
        let snapshot = try Self.resolved(both)
        #expect(snapshot.servingRevisions.map(\.scaling.concurrency) == [3, 7, 80])
        let offline = try ConfigLoader.load(yaml: functionDocument() + both, file: "f.yaml")
        #expect(offline.routing.subsets.count == 2, "read alone, both stand in as the current spec")
    }

    @Test("Two subsets with different traffic policies cannot select the same revision")
    func subsetPolicyConflict() {
        let conflicting = Self.subsets
            .replacingOccurrences(of: "{name: v2, labels: {version: v2}}", with: "{name: v2, labels: {serving.knative.dev/revision: hello-00001}, trafficPolicy: {connectionPool: {tcp: {maxConnections: 9}}}}")
        do {
            _ = try Self.resolved(conflicting)
            Issue.record("expected a diagnostic")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["subsets \"stable\" and \"v2\" both select hello-00001 with different traffic policies; a revision has one pool"])
        }
    }

    @Test("Subsets decode with their labels; a subset without labels is reported")
    func subsetDecoding() {
        let problems = diagnostics("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: hello}
            spec:
              host: hello
              subsets: [{name: v1}]
            """)
        #expect(problems.map(\.message) == ["a subset needs `labels` to select a revision"])
    }
}
