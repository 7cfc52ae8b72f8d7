import GatehouseCore
import GatehouseIdentity
import Testing

@Suite("PeerAuthentication: modes and precedence")
struct PeerAuthenticationTests {
    let api = FunctionSpec(name: "api", namespace: "shop", labels: ["app": "api"], process: .init(command: ["x"]))
    typealias Mode = PeerAuthenticationSpec.Mode

    func mode(_ policies: [PeerAuthenticationSpec], port: Int = 8080) -> PeerAuthenticationModes.Effective {
        PeerAuthenticationModes(policies: policies, functions: [api], rootNamespace: "istio-system").mode(for: api.key, port: port)
    }

    func policy(_ namespace: String, _ name: String, _ mode: Mode, selector: [String: String]? = nil, ports: [Int: Mode] = [:]) -> PeerAuthenticationSpec {
        PeerAuthenticationSpec(namespace: namespace, name: name, selector: selector, mode: mode, portModes: ports)
    }

    @Test("Workload over namespace over mesh; UNSET inherits; PERMISSIVE when nothing says", arguments: [
        ([], Mode.permissive, nil as String?),
        (["mesh STRICT"], .strict, "istio-system/mesh"),
        (["mesh STRICT", "namespace PERMISSIVE"], .permissive, "shop/namespace"),
        (["mesh STRICT", "namespace UNSET"], .strict, "istio-system/mesh"),
        (["namespace DISABLE", "workload STRICT"], .strict, "shop/workload"),
        (["mesh DISABLE", "workload UNSET"], .disable, "istio-system/mesh"),
        (["namespace STRICT", "other-workload DISABLE"], .strict, "shop/namespace"),
        (["elsewhere STRICT"], .permissive, nil),
    ])
    func precedence(_ levels: [String], _ expected: Mode, _ decidedBy: String?) {
        let policies = levels.map { level -> PeerAuthenticationSpec in
            let parts = level.split(separator: " ")
            let mode = Mode(rawValue: String(parts[1]))!
            switch parts[0] {
            case "mesh": return policy("istio-system", "mesh", mode)
            case "namespace": return policy("shop", "namespace", mode)
            case "workload": return policy("shop", "workload", mode, selector: ["app": "api"])
            case "other-workload": return policy("shop", "other", mode, selector: ["app": "web"])
            default: return policy("elsewhere", "ns", mode)
            }
        }
        let effective = mode(policies)
        #expect(effective.mode == expected)
        #expect(effective.policy == decidedBy)
    }

    @Test("portLevelMtls overrides the workload's mode on that port only")
    func portLevel() {
        let policies = [policy("shop", "api", .strict, selector: ["app": "api"], ports: [8080: .disable, 9090: .unset])]
        #expect(mode(policies, port: 8080).mode == .disable)
        #expect(mode(policies, port: 9090).mode == .strict, "UNSET on a port inherits the workload's mode")
        #expect(mode(policies, port: 15443).mode == .strict)
    }

    @Test("The stage refuses plaintext to STRICT and mutual TLS to DISABLE, naming the policy")
    func stage() {
        func verdict(_ mode: Mode, peer: PeerIdentity?) -> GatehouseError.Code? {
            let stage = EnforcePeerAuthentication(modes: PeerAuthenticationModes(
                policies: [policy("shop", "pa", mode)], functions: [api], rootNamespace: "istio-system"))
            var record = RequestRecord(requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: "/", httpProtocol: "HTTP/1.1", authority: "")
            record.destination = FunctionDestination(spec: api)
            record.peer = peer
            if case .reject(let error) = stage.process(&record, headers: NoHeaders()) {
                #expect(record.decision?.policy == "shop/pa")
                return error.code
            }
            return nil
        }
        let peer = PeerIdentity(principal: "cluster.local/ns/shop/sa/web", uri: "spiffe://cluster.local/ns/shop/sa/web", certificateHash: "00")
        #expect(verdict(.strict, peer: nil) == .mtlsRequired)
        #expect(verdict(.strict, peer: peer) == nil)
        #expect(verdict(.disable, peer: peer) == .mtlsNotAccepted)
        #expect(verdict(.disable, peer: nil) == nil)
        #expect(verdict(.permissive, peer: peer) == nil && verdict(.permissive, peer: nil) == nil)
    }
}

struct NoHeaders: RequestHeaders {
    func first(_ name: String) -> String? { nil }
    func joined(_ name: String) -> String? { nil }
}
