import Foundation

/// Where authorization decisions are kept, by request id, for `gatehouse explain --request-id`.
/// Written in batches off the request path; kept for a configured time.
public protocol DecisionLog: Sendable {
    func record(_ entries: [DecisionEntry]) throws(StoreError)
    /// Oldest first. Several when callers reused a request id (`X-Request-Id` is theirs to choose):
    /// one never overwrites another.
    func decisions(requestId: String) throws(StoreError) -> [DecisionEntry]
    /// Deletes entries older than `date`; returns how many.
    @discardableResult
    func prune(olderThan date: Date) throws(StoreError) -> Int
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
