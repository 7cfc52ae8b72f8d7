/// Rendezvous (highest-random-weight) hashing: which of several nodes a key belongs to. Every node
/// that knows the same names picks the same one, and when a node comes or goes only the keys that
/// it wins (or won) move. The hash is fixed — FNV-1a (64-bit) over the node's name, a zero byte and
/// the key, then SplitMix64's finalizer — so processes and versions agree (never Swift's `Hasher`,
/// which is seeded per process).
public enum Rendezvous {
    public static func score(node: String, key: String) -> UInt64 {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in node.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        hash = hash &* 1_099_511_628_211  // the zero byte between the two
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }

    /// The node `key` belongs to among `nodes`; nil when there are none. A tie (two equal 64-bit
    /// scores) goes to the name that sorts first.
    public static func winner(of key: String, among nodes: some Sequence<String>) -> String? {
        var best: (name: String, score: UInt64)?
        for node in nodes {
            let score = score(node: node, key: key)
            if let current = best, current.score > score || (current.score == score && current.name < node) { continue }
            best = (node, score)
        }
        return best?.name
    }
}
