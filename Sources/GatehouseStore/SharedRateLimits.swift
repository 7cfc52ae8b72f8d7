/// Token buckets a mesh's nodes share (on PostgreSQL): each node adds what it took since its last
/// exchange, and learns what the others took. Each row is one node's running count for one
/// policy's key; a node reads the rows other nodes changed in the last few seconds and subtracts
/// what is new since it last saw them (`RateLimitSharing` in the gateway).
public protocol SharedRateLimits: Sendable {
    /// Adds `taken` to `node`'s counts, then returns the other nodes' counts changed within the
    /// last `SharedRateTake.window` (at most `limit` of them).
    func exchangeRateTakes(node: String, taken: [SharedRateTake], limit: Int) async throws(StoreError) -> [SharedRateCount]
    /// Forgets counts unchanged for a minute (no node reads them any more).
    func pruneRateTakes() async throws(StoreError)
}

/// Tokens one node took from one policy's bucket for one key.
public struct SharedRateTake: Sendable, Hashable {
    public var policy: String
    public var key: String
    public var taken: Int
    public init(policy: String, key: String, taken: Int) {
        self.policy = policy
        self.key = key
        self.taken = taken
    }

    /// How far back an exchange reads other nodes' changes: a node that exchanges less often
    /// than this (stalled) misses some of their takes.
    public static let window: Duration = .seconds(5)
}

/// Another node's running count for one policy's key.
public struct SharedRateCount: Sendable, Hashable {
    public var node: String
    public var policy: String
    public var key: String
    /// Taken since the row was made.
    public var total: Int64
    /// Added by its latest change: what is new to a reader that never saw the row before.
    public var last: Int64
    public init(node: String, policy: String, key: String, total: Int64, last: Int64) {
        self.node = node
        self.policy = policy
        self.key = key
        self.total = total
        self.last = last
    }
}
