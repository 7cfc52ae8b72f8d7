import Foundation

/// One thing the audit log records: what happened, when, and who did it, as far as Gatehouse
/// verified it. Never a secret: tokens, keys and request bodies are not fields here.
///
/// Every field but `kind` and `at` is optional; a record's JSON (its canonical bytes, what the hash
/// chain covers) holds only the fields that are set, keys sorted, no whitespace.
public struct AuditEvent: Sendable, Hashable, Codable {
    /// The record's place in the chain; set when it is appended (nil before).
    public var seq: Int64?
    public var kind: AuditKind
    public var at: Date

    // Who: identities Gatehouse verified.
    /// The peer's SPIFFE ID (mutual TLS), or the admin SVID that authorized an admin change.
    public var sourcePrincipal: String?
    /// A verified JWT's `iss/sub` (Istio's request principal).
    public var requestPrincipal: String?
    /// The agents acting for `requestPrincipal` (RFC 8693 `act`), the current one first.
    public var actors: [String]?
    /// The caller's network address (the direct peer).
    public var sourceAddress: String?

    // Which request.
    public var requestId: String?
    /// W3C trace id of the request's trace, when tracing set one.
    public var traceId: String?
    public var method: String?
    public var host: String?
    /// Normalized, with credentials in the query redacted (as the access log writes it).
    public var path: String?
    /// `namespace/name`.
    public var function: String?
    /// The function revision the request was routed to (`NAME-0000N`).
    public var revision: String?
    public var responseCode: Int?

    // What was decided.
    /// `allow` or `deny`.
    public var decision: String?
    /// The policy that decided (`namespace/name`).
    public var policy: String?
    public var rule: Int?
    /// For requests: the deciding policy's action (`ALLOW`, `DENY`, `AUDIT`, `CUSTOM`); for admin
    /// changes: `apply` or `delete`; for CA events: `create`, `rotate`, `issue`.
    public var action: String?
    public var reason: String?
    /// AUDIT policies that matched.
    public var audited: [String]?

    // Admin changes.
    /// The user name the client claims (`user@host`); the credential is what was verified.
    public var actor: String?
    /// `admin token`, `admin svid` or `local` (a command run on the state directory).
    public var credential: String?
    public var changes: [AuditChange]?

    // CA events.
    /// The SPIFFE ID an SVID was issued for.
    public var spiffeId: String?
    /// Serial number of an issued certificate (hex).
    public var serial: String?
    public var notAfter: Date?
    /// SHA-256 of a root certificate's DER (hex): the new one, and for a rotation the one replaced.
    public var rootFingerprint: String?
    public var previousRootFingerprint: String?

    // The log's own events.
    /// `audit.dropped`: records lost because the writer fell behind; `audit.pruned`: records removed.
    public var count: Int?
    /// `audit.pruned`: the checkpointed record the chain now starts after.
    public var anchorSeq: Int64?
    /// Anything else worth a sentence (a start's pid and version, why a prune ran).
    public var detail: String?
    /// `audit.checkpoint`: the record a checkpoint signed, and the hash it signed. In the chain, so
    /// removing a checkpoint row is seen (its record names it).
    public var checkpointSeq: Int64?
    public var checkpointHash: String?
    /// A record retention carried forward (`audit.pruned`): the number it had first. Admin, CA and
    /// start/stop records are kept for the whole retention time, whatever the size bounds cut.
    public var carriedFrom: Int64?

    public init(kind: AuditKind, at: Date) {
        self.kind = kind
        self.at = at
    }
}

/// What an audit record is about. A string, so records a newer Gatehouse writes still read.
public struct AuditKind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// An authorization policy denied a request (DENY matched, no ALLOW matched, CUSTOM denied).
    public static let requestDenied = AuditKind("request.denied")
    /// An AUDIT policy matched a request that was allowed.
    public static let requestAudited = AuditKind("request.audited")
    /// A request's credential was refused: a JWT (never the token itself), or plaintext where
    /// mutual TLS is required.
    public static let authenticationFailed = AuditKind("authentication.failed")
    /// The token endpoint issued a delegated token: for whom, to which function, through which agents.
    public static let tokenExchanged = AuditKind("token.exchanged")
    /// The token endpoint refused an exchange (the reason code says which check failed).
    public static let tokenRefused = AuditKind("token.refused")
    /// The admin API refused a call for a missing or wrong credential.
    public static let adminRefused = AuditKind("admin.refused")
    /// An admin change is about to be made (written, durably, before it is): who asked, for what.
    public static let adminRequested = AuditKind("admin.requested")
    /// Resources were applied or deleted.
    public static let adminChanged = AuditKind("admin.changed")
    /// A requested admin change was refused (invalid config, a conflict); nothing changed.
    public static let adminFailed = AuditKind("admin.failed")
    public static let caRootCreated = AuditKind("ca.root_created")
    public static let caRotated = AuditKind("ca.rotated")
    public static let caSVIDIssued = AuditKind("ca.svid_issued")
    /// A join token was made for a new node (never the token: `detail` says how long it lives).
    public static let caJoinTokenCreated = AuditKind("ca.join_token_created")
    /// A node that joined with a token got its intermediate CA (`detail` names the node).
    public static let caNodeCertified = AuditKind("ca.node_certified")
    /// A node that joined took a new intermediate, or the trust bundle it follows, from the mesh
    /// (`detail` says which, with the roots' fingerprints).
    public static let caTrustChanged = AuditKind("ca.trust_changed")
    public static let started = AuditKind("gatehouse.started")
    public static let stopped = AuditKind("gatehouse.stopped")
    /// Records were dropped because the writer fell behind: the gap, said in the chain.
    public static let recordsDropped = AuditKind("audit.dropped")
    /// Retention removed the records up to a checkpoint; the chain starts after it.
    public static let pruned = AuditKind("audit.pruned")
    /// A checkpoint was signed over the record before this one (`checkpointSeq`, `checkpointHash`).
    public static let checkpointed = AuditKind("audit.checkpoint")

    /// What size and count bounds never remove before the retention time: what an auditor asks
    /// about first, and what a flood of refused requests must not push out.
    public static let kept: Set<AuditKind> = [
        adminRequested, adminChanged, adminFailed, caRootCreated, caRotated, caSVIDIssued, caJoinTokenCreated, caNodeCertified,
        caTrustChanged, started, stopped,
    ]
}

/// One resource an admin change touched.
public struct AuditChange: Sendable, Hashable, Codable {
    public var kind: String
    public var namespace: String
    public var name: String
    /// `created`, `configured` or `deleted`.
    public var result: String
    public var generation: Int

    public init(kind: String, namespace: String, name: String, result: String, generation: Int) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.result = result
        self.generation = generation
    }
}
