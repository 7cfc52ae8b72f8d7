import GatehouseCore
import GatehouseRouting

/// What `explain` says about a request, and `explain -o json` prints (see docs/reference/explain.md).
///
/// `stages` is the whole story, one entry per stage of the request path in the order it runs.
/// The fields after it summarize it for people and for `gatehouse test`.
public struct Explanation: Codable, Sendable {
    /// One stage's verdict.
    public struct Stage: Codable, Sendable {
        /// `request`, `hop_limit`, `route`, `peer_authentication`, `jwt`, `login`, `authorization`, `rate_limit`.
        public var stage: StageName
        /// `pass`, `refuse` (the request ends with an error status), `respond` (the gateway
        /// answers it itself: a redirect, direct response, preflight), `skip` (not configured),
        /// or `not_reached` (an earlier stage ended the request).
        public var verdict: String
        public var reason: String
        /// The status the caller gets, when this stage ends the request.
        public var status: Int?
        /// The error code (`mtls_required`, `rate_limited`, …) of a refusal: what the caller's body says.
        public var code: String?
        public var details: [String: DetailValue]?
    }

    public struct Policy: Codable, Sendable {
        public var policy: String
        public var action: String
        public var dryRun: Bool
        public var matchedRule: Int?
        /// Why each rule before the matching one (or every rule) did not match.
        public var misses: [String]
        public var source: String?
    }

    /// What RequestAuthentication made of the request's token.
    public struct Authentication: Codable, Sendable {
        /// `none` (no token, or no rule applies), `verified`, `assumed` (claims given) or `refused`.
        public var result: String
        public var principal: String?
        /// The RequestAuthentication whose rule verified the token.
        public var policy: String?
        /// Why a token was refused, or why none was checked.
        public var reason: String?
    }

    public var request: ExplainRequest
    /// `ingress`, `mesh` or `gateway NAMESPACE/NAME`, and the port.
    public var via: String
    public var stages: [Stage]
    /// The stage that ended the request (nil: it reached the function).
    public var decidingStage: StageName?
    /// 200 when the request would reach the function; else the status the caller gets.
    public var status: Int
    public var reason: String
    /// `namespace/name`, or nil when no function serves the request.
    public var function: String?
    public var revision: String?
    /// The path policies match and the function gets (normalized, after a rewrite).
    public var normalizedPath: String
    public var route: RouteTrace?
    public var authentication: Authentication
    /// Authorization's decision (`allow`/`deny`), when authorization or peer authentication decided.
    public var decision: String?
    public var decidingPolicy: String?
    public var rule: Int?
    public var policies: [Policy]
    public var audited: [String]
    public var dryRun: [String]
    /// The CUSTOM policy whose provider would be asked first, and its rule.
    public var custom: String?
}
