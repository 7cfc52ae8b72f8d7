import Foundation
import GatehouseAuthentication
import GatehouseCore
import Testing

/// What one node tells another about a request it passes on (docs/store-postgres.md, "Placement"):
/// the revision to run, and the verified caller the home signs its assertion for.
@Suite("The hop between nodes: the revision and the caller's subject as headers carry them")
struct NodeHopSubjectTests {
    @Test("A subject survives the header whole, delegation chain and scopes included; anything else is not a subject")
    func subjectRoundTrip() throws {
        let subject = AssertionSubject(
            audience: "fn.default.svc.cluster.local", subject: "https://idp.example/ada", kind: .user, email: "ada@example.com",
            groups: ["ops", "dev"], actor: .object(["sub": .string("agent-1")]), subjectIssuer: "https://idp.example", scope: "read write")
        let header = try #require(subject.hopHeaderValue)
        #expect(!header.contains("\n") && !header.contains(" "), "one header value")
        #expect(AssertionSubject(hopHeaderValue: header) == subject)
        for junk in ["", "not base64!", Data("{}".utf8).base64EncodedString(), Data(#"{"audience":"a","subject":"s","kind":"root"}"#.utf8).base64EncodedString()] {
            #expect(AssertionSubject(hopHeaderValue: junk) == nil, "\(junk)")
        }
    }

    @Test("The revision header names namespace, function and number; a malformed one names nothing")
    func revisionHeader() {
        let key = RevisionKey(function: FunctionKey(namespace: "team-a", name: "resize"), number: 12)
        #expect(NodeHop.value(for: key) == "team-a/resize/12")
        #expect(NodeHop.revision(from: "team-a/resize/12") == key)
        for junk in ["team-a/resize", "team-a/resize/0", "team-a/resize/-1", "/resize/1", "team-a//1", "a/b/c/1", "a/b/x"] {
            #expect(NodeHop.revision(from: junk) == nil, "\(junk)")
        }
        #expect(NodeHop.placementKey(for: key.function) == "team-a/resize", "every revision of a function shares its home")
    }
}
