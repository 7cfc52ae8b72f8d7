import Foundation

/// Token buckets a mesh's nodes share (on PostgreSQL): each node adds what it took since its last
/// exchange, and learns what the others took. Each row is one node's running count for one
/// policy's key; a node reads the rows other nodes changed in the last few seconds and subtracts
/// what is new since it last saw them (`RateLimitSharing` in the gateway).
public protocol SharedRateLimits: Sendable {
    /// Adds `taken` to `node`'s counts, then returns the other nodes' counts changed at or after
    /// `since` (nil: within the last `SharedRateTake.window`), oldest change first, at most `limit`
    /// of them, and where the next read starts (by the database's clock, a little before its now —
    /// or, when `limit` cut the read short, the last change returned).
    func exchangeRateTakes(node: String, taken: [SharedRateTake], since: Date?, limit: Int) async throws(StoreError) -> SharedRateRead
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

    /// How far back a node's first exchange reads other nodes' changes.
    public static let window: Duration = .seconds(5)
    /// How far before the database's now the next read starts: a change committed a little after
    /// the time it carries is still read (the ledger counts a row it reads twice once).
    public static let overlap: Duration = .seconds(1)
    /// Keys stored at most this long (bytes); longer ones, and any holding a NUL, are left out of
    /// an exchange (PostgreSQL's text and index limits): one bad key must not fail the batch.
    public static let maxKeyBytes = 512

    public static func storable(_ text: String) -> Bool {
        text.utf8.count <= maxKeyBytes && !text.utf8.contains(0)
    }
}

/// What one exchange read.
public struct SharedRateRead: Sendable {
    public var counts: [SharedRateCount]
    public var next: Date
    public init(counts: [SharedRateCount], next: Date) {
        self.counts = counts
        self.next = next
    }
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
