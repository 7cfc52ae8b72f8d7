import GatehouseCore
import Testing

@testable import GatehouseRouting

@Suite("Routing among revisions: traffic percentages, tag hosts, subsets")
struct RevisionRoutingTests {
    static let key = FunctionKey(namespace: "default", name: "hello")

    static func spec(_ generation: Int) -> FunctionSpec {
        FunctionSpec(name: "hello", process: .init(command: ["./f"])).atGeneration(generation)
    }

    /// hello at generation 3: 1 gets 25 % and the tag `old`, 3 (latest) 75 %; subset `two` is revision 2.
    static let routing = RevisionRouting(
        serving: [spec(1).revisionKey: spec(1), spec(2).revisionKey: spec(2), spec(3).revisionKey: spec(3)],
        traffic: [key: [
            TrafficShare(revision: spec(1).revisionKey, percent: 25, tag: "old"),
            TrafficShare(revision: spec(3).revisionKey, percent: 75, latest: true),
        ]],
        subsets: [SubsetKey(function: key, subset: "two"): spec(2).revisionKey])

    let router = HostRouter(functions: [spec(3)], routing: routing, domain: "localhost")

    @Test("The function's host splits by percent: 25 % ± 2 % over 10,000 draws")
    func split() {
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[router.destination(forHost: "hello.default.localhost")?.revision ?? "none", default: 0] += 1 }
        #expect(Set(counts.keys) == ["hello-00001", "hello-00003"])
        #expect(abs(Double(counts["hello-00001"] ?? 0) / 10_000 - 0.25) < 0.02, "\(counts)")
    }

    @Test("A tag's host always reaches its revision; other tags do not exist")
    func tagHost() {
        for _ in 0..<100 { #expect(router.destination(forHost: "old-hello.default.localhost:8080")?.revision == "hello-00001") }
        #expect(router.destination(forHost: "new-hello.default.localhost") == nil)
        #expect(HostRouter.url(for: Self.spec(3), tag: "old", domain: "localhost", port: 8080) == "http://old-hello.default.localhost:8080/")
    }

    @Test("Destinations of one revision share the revision's spec and key")
    func destinations() {
        let old = router.destination(forHost: "old-hello.default.localhost")
        #expect(old?.revisionKey == Self.spec(1).revisionKey && old?.key == Self.key)
        #expect(router.targets.split(for: Self.key, subset: "two")?.pick()?.revision == "hello-00002")
        #expect(router.targets.split(for: Self.key, subset: "three") == nil)
        #expect(router.targets.split(for: Self.key, subset: nil)?.summary == "hello-00001 25%, hello-00003 75%")
    }

    @Test("A 0 % share is never drawn")
    func zeroShare() {
        let split = TrafficSplit([(FunctionDestination(spec: Self.spec(1)), 0), (FunctionDestination(spec: Self.spec(2)), 100)])
        for _ in 0..<1000 { #expect(split.pick()?.revision == "hello-00002") }
    }
}
