import Foundation
import GatehouseTesting
import Testing

/// HTTP/2's known denial-of-service attacks, each performed with hand-written frames on a raw
/// socket (`HTTP2Peer`): the connection ends with GOAWAY ENHANCE_YOUR_CALM (or the protocol error
/// the attack is), and the gateway keeps serving with bounded memory (docs/security.md, "HTTP/2").
@Suite("HTTP/2 attacks on the listener", .serialized)
struct HTTP2ListenerAttackTests {
    static let host = "fn.default.localhost"
    static let enhanceYourCalm = 11

    func attack(_ mode: String, _ gatehouse: RunningGatehouse) async throws -> [String: Any] {
        let port = try #require(URL(string: gatehouse.ingress)?.port)
        return try await HTTP2Peer.run(mode, port: port, host: Self.host, in: gatehouse.directory)
    }

    func stillServes(_ gatehouse: RunningGatehouse) async throws {
        let after = try await HTTP2Tools.curl(
            ["--http2-prior-knowledge", "-H", "host: \(Self.host)", gatehouse.ingress + "/"], in: gatehouse.directory)
        #expect(after.status == 200 && after.version == "2", "\(after)")
    }

    @Test("Rapid reset (CVE-2023-44487): streams opened and reset at once end the connection with ENHANCE_YOUR_CALM")
    func rapidReset() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let outcome = try await attack("rapid-reset", gatehouse)
            #expect(outcome["goaway"] as? Int == Self.enhanceYourCalm, "\(outcome)")
            #expect(outcome["closed"] as? Bool == true)
            #expect((outcome["sent"] as? Int ?? 0) < 1000 || outcome["goaway"] != nil)
            try await stillServes(gatehouse)
        }
    }

    @Test("CONTINUATION flood (CVE-2024-27316 class): an endless header block ends the connection; nothing is buffered without bound")
    func continuationFlood() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let outcome = try await attack("continuation", gatehouse)
            #expect(outcome["goaway"] as? Int == Self.enhanceYourCalm, "\(outcome)")
            #expect(outcome["closed"] as? Bool == true)
            #expect((outcome["sent"] as? Int ?? 0) < 10000, "the server stopped reading long before the flood ended: \(outcome)")
            try await stillServes(gatehouse)
        }
    }

    @Test("PING and SETTINGS floods (CVE-2019-9512, -9515) and empty DATA frames (CVE-2019-9518) end the connection with ENHANCE_YOUR_CALM")
    func controlFloods() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            for mode in ["ping", "settings", "empty-data"] {
                let outcome = try await attack(mode, gatehouse)
                #expect(outcome["goaway"] as? Int == Self.enhanceYourCalm, "\(mode): \(outcome)")
                #expect(outcome["closed"] as? Bool == true, "\(mode)")
            }
            try await stillServes(gatehouse)
        }
    }

    @Test("After every attack, twice over, the gateway's memory stays bounded and it still serves")
    func memoryBounded() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            try await stillServes(gatehouse)
            let before = gatehouse.peakResidentBytes
            // Twice over: what one round leaves behind would show as growth in the second.
            for _ in 0..<2 {
                for mode in ["rapid-reset", "continuation", "ping", "settings", "empty-data"] {
                    _ = try await attack(mode, gatehouse)
                }
            }
            try await stillServes(gatehouse)
            let grown = gatehouse.peakResidentBytes - before
            #expect(grown < 64 << 20, "peak RSS grew by \(grown >> 20) MiB")
        }
    }
}
