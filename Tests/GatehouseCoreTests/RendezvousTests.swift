import GatehouseCore
import Testing

/// The placement rule (docs/store-postgres.md, "Placement"): every node must compute the same home
/// for a revision, now and across versions, and a node joining takes revisions only for itself.
@Suite("Rendezvous hashing: which node is a revision's home")
struct RendezvousTests {
    @Test("The score is the documented hash: FNV-1a of name, zero byte and key, then SplitMix64's finalizer")
    func pinned() {
        // Computed independently (Python) from the documented definition.
        #expect(Rendezvous.score(node: "node-a", key: "default/alpha") == 10_552_837_480_745_371_770)
        #expect(Rendezvous.score(node: "node-b", key: "default/alpha") == 8_958_592_482_231_212_249)
        #expect(Rendezvous.winner(of: "default/alpha", among: ["node-a", "node-b"]) == "node-a")
        #expect(Rendezvous.winner(of: "default/alpha", among: ["node-b", "node-a"]) == "node-a", "the order nodes are listed in does not matter")
        #expect(Rendezvous.winner(of: "default/alpha", among: [String]()) == nil)
    }

    @Test("A node that joins takes revisions only from the others' share to itself; one that leaves gives only its own away")
    func minimalMovement() {
        let keys = (1...2000).map { "default/function-\($0)" }
        let before = Dictionary(uniqueKeysWithValues: keys.map { ($0, Rendezvous.winner(of: $0, among: ["node-a", "node-b", "node-c"])!) })
        let joined = Dictionary(uniqueKeysWithValues: keys.map { ($0, Rendezvous.winner(of: $0, among: ["node-a", "node-b", "node-c", "node-d"])!) })
        let moved = keys.filter { before[$0] != joined[$0] }
        #expect(moved.allSatisfy { joined[$0] == "node-d" })
        #expect(moved.count > 300 && moved.count < 700, "about a quarter moves to the new node: \(moved.count)")
        let left = Dictionary(uniqueKeysWithValues: keys.map { ($0, Rendezvous.winner(of: $0, among: ["node-a", "node-c"])!) })
        #expect(keys.filter { before[$0] != left[$0] }.allSatisfy { before[$0] == "node-b" })
    }

    @Test("Revisions spread evenly over the nodes")
    func balance() {
        var counts: [String: Int] = [:]
        for index in 1...3000 { counts[Rendezvous.winner(of: "ns-\(index % 7)/fn-\(index)", among: ["a", "b", "c"])!, default: 0] += 1 }
        #expect(counts.values.allSatisfy { $0 > 850 && $0 < 1150 }, "\(counts)")
    }
}
