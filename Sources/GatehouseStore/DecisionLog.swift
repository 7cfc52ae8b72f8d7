import Foundation

/// Where authorization decisions are kept, by request id, for `gatehouse explain --request-id`.
/// Written in batches off the request path; kept for a configured time and within `DecisionLogBounds`.
public protocol DecisionLog: Sendable {
    /// Stores each entry `bounded()`: no row holds more than `DecisionEntry.maxFieldBytes` per field.
    func record(_ entries: [DecisionEntry]) throws(StoreError)
    /// Oldest first. Several when callers reused a request id (`X-Request-Id` is theirs to choose):
    /// one never overwrites another.
    func decisions(requestId: String) throws(StoreError) -> [DecisionEntry]
    /// Deletes entries older than `date`; returns how many.
    @discardableResult
    func prune(olderThan date: Date) throws(StoreError) -> Int
    /// When the log is past either bound, deletes its oldest entries (in small batches) until it is
    /// back under 90 % of both; returns how many. Cheap when it is within them.
    @discardableResult
    func prune(toFit bounds: DecisionLogBounds) throws(StoreError) -> Int
}

/// How large the decision log may grow, whatever the request rate: a flood of denied requests
/// ages out the oldest decisions instead of filling the disk.
public struct DecisionLogBounds: Sendable, Hashable {
    /// Default 100 000 entries.
    public var maxEntries: Int
    /// The stored text of all entries, default 64 MiB (each entry is at most a few KiB).
    public var maxBytes: Int

    public init(maxEntries: Int = 100_000, maxBytes: Int = 64 << 20) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }
}

/// One request's authorization decision, with what it was about.
public struct DecisionEntry: Sendable, Hashable, Codable {
    public var requestId: String
    public var at: Date
    /// `namespace/name` of the function.
    public var function: String
    public var method: String
    public var host: String
    public var path: String
    public var sourceAddress: String?
    /// `allow` or `deny`.
    public var outcome: String
    public var policy: String?
    public var rule: Int?
    public var reason: String
    public var audited: [String]
    public var dryRun: [String]

    public init(
        requestId: String, at: Date, function: String, method: String, host: String, path: String, sourceAddress: String?,
        outcome: String, policy: String?, rule: Int?, reason: String, audited: [String], dryRun: [String]
    ) {
        self.requestId = requestId
        self.at = at
        self.function = function
        self.method = method
        self.host = host
        self.path = path
        self.sourceAddress = sourceAddress
        self.outcome = outcome
        self.policy = policy
        self.rule = rule
        self.reason = reason
        self.audited = audited
        self.dryRun = dryRun
    }
}
