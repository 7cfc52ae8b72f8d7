import Foundation
import GatehouseIdentity
import GatehouseTesting
import Testing
import X509

@Suite("Function identity: each instance's own SVID", .serialized)
struct FunctionIdentityTests {
    @Test("An instance gets an SVID for its service account, in files named by its environment, and calls another function as itself")
    func callsAsItself() async throws {
        let config = fixtureFunction(name: "caller", spec: "serviceAccount: billing") + "---\n" + fixtureFunction(name: "callee") + """
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: only-billing, namespace: default}
            spec:
              selector: {matchLabels: {app: callee}}
              rules:
              - from: [{source: {principals: ["cluster.local/ns/default/sa/billing"]}}]

            """
        let labelled = config.replacingOccurrences(of: "  name: callee\n", with: "  name: callee\n  labels: {app: callee}\n")
        try await withGatehouse(labelled) { gatehouse in
            let identity = try await gatehouse.request("caller", path: "/identity")
            let env = try #require(identity.json["env"] as? [String: String])
            #expect(env["GATEHOUSE_SPIFFE_ID"] == "spiffe://cluster.local/ns/default/sa/billing")
            #expect(env["GATEHOUSE_MESH_URL"] == gatehouse.mesh)
            let certificate = try Certificate(pemEncoded: try #require(identity.json["cert"] as? String))
            #expect(try certificate.extensions.subjectAlternativeNames.map(Array.init) == [.uniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/billing")])
            let keyFile = try #require(env["GATEHOUSE_SVID_KEY"])
            #expect((try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int) == 0o600)

            let call = try await gatehouse.request("caller", path: "/call?host=callee.default.\(gatehouse.domain)&path=/hello")
            #expect(call.json["status"] as? Int == 200, "\(call.body)")
            let inner = try #require(try JSONSerialization.jsonObject(with: Data((call.json["body"] as? String ?? "").utf8)) as? [String: Any])
            let xfcc = (inner["headers"] as? [String: String])?["x-forwarded-client-cert"]
            #expect(xfcc?.hasSuffix("URI=spiffe://cluster.local/ns/default/sa/billing") == true, "\(xfcc ?? "none")")
            #expect(try await gatehouse.request("callee").status == 403, "the ingress caller is not billing")
        }
    }

    @Test("An instance's SVID is renewed at half its lifetime, in place")
    func renewed() async throws {
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec: {identity: {svidTTL: "2s"}}

            """
        try await withGatehouse(config) { gatehouse in
            let first = try #require(try await gatehouse.request("fn", path: "/identity").json["cert"] as? String)
            let renewed = try await eventually("the instance's SVID renewed", timeout: .seconds(10)) { () async throws -> String? in
                let current = try await gatehouse.request("fn", path: "/identity").json["cert"] as? String
                return current != first ? current : nil
            }
            let certificate = try Certificate(pemEncoded: renewed)
            #expect(certificate.notValidAfter > Date())
        }
    }
}
