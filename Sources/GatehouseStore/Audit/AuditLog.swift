import Foundation

/// The tamper-evident audit log: records in a hash chain, checkpoints signed under the mesh CA.
/// `SQLiteAuditLog` keeps it in `STATE_DIR/audit.db`; a PostgreSQL log would implement the same
/// calls, each write in one transaction that sees the chain's current head.
///
/// Several writers may append (a running Gatehouse, and `gatehouse ca …` on the same state
/// directory): each append reads the head inside its write transaction, so the chain never forks.
public protocol AuditLog: Sendable {
    /// Appends `events` in order, each chained to the one before; durable when it returns.
    func append(_ events: [AuditEvent]) async throws(StoreError) -> [AuditRecord]

    /// Runs `sign` on the head inside one write transaction and stores the checkpoint it returns
    /// (nil: nothing to sign), with its signer's chain, and appends its `audit.checkpoint` record.
    /// Two writers cannot both checkpoint on the same previous checkpoint.
    @discardableResult
    func checkpoint(_ sign: @escaping @Sendable (AuditHead) throws -> (AuditCheckpoint, AuditSignerChain)?) async throws(StoreError) -> AuditCheckpoint?

    func head() async throws(StoreError) -> AuditHead

    /// The newest checkpoint: what an operator keeps elsewhere (`gatehouse audit checkpoint`).
    func latestCheckpoint() async throws(StoreError) -> AuditCheckpoint?

    /// Matching records, oldest first (see `AuditQuery`).
    func records(_ query: AuditQuery) async throws(StoreError) -> [AuditRecord]

    /// Walks the whole chain and its checkpoints in one consistent read (see `AuditChainWalk`),
    /// and checks it still reaches `outside` (a checkpoint kept elsewhere). Signatures are not
    /// checked here: that needs the trust bundle (`AuditVerifier`).
    func walk(outside: AuditCheckpoint?) async throws(StoreError) -> AuditChainWalk.Result

    /// Cuts the chain at the newest checkpoint that lets what stays fit `bounds` (and drops the
    /// oldest records while all are older than `cutoff`), keeps that checkpoint as the anchor and
    /// appends an `audit.pruned` record, in one transaction. Records of `AuditKind.kept` kinds
    /// younger than `cutoff` that the bounds cut are appended again after it (`carriedFrom`).
    /// Nil when nothing was cut.
    func prune(olderThan cutoff: Date?, toFit bounds: AuditBounds, at now: Date) async throws(StoreError) -> AuditRecord?

    /// Gives the space pruning freed back to the file system (may do nothing).
    func compact() async throws(StoreError)
}

extension AuditLog {
    public func walk() async throws(StoreError) -> AuditChainWalk.Result { try await walk(outside: nil) }
}

/// How large the audit log may grow. Retention only ever cuts at a checkpoint, so the log may hold
/// up to one checkpoint interval more than these.
public struct AuditBounds: Sendable, Hashable {
    /// Default 1 000 000 records.
    public var maxRecords: Int
    /// The stored JSON of all records, default 256 MiB.
    public var maxBytes: Int

    public init(maxRecords: Int = 1_000_000, maxBytes: Int = 256 << 20) {
        self.maxRecords = maxRecords
        self.maxBytes = maxBytes
    }
}

/// Which records `gatehouse audit` and `GET /api/v1/audit` show. Every filter is optional.
public struct AuditQuery: Sendable, Hashable {
    public var since: Date?
    public var until: Date?
    /// A SPIFFE ID (with or without `spiffe://`), or a request principal `iss/sub`.
    public var principal: String?
    /// `namespace/name`.
    public var function: String?
    /// `allow` or `deny`.
    public var decision: String?
    /// A policy action or an admin / CA operation (see `AuditEvent.action`).
    public var action: String?
    public var kind: String?
    /// Only records after this sequence number (paging, `--follow`).
    public var after: Int64?
    /// At most this many: the oldest ones after `after` when it is set, otherwise the newest.
    public var limit: Int

    public init(
        since: Date? = nil, until: Date? = nil, principal: String? = nil, function: String? = nil, decision: String? = nil,
        action: String? = nil, kind: String? = nil, after: Int64? = nil, limit: Int = 1000
    ) {
        self.since = since
        self.until = until
        self.principal = principal
        self.function = function
        self.decision = decision
        self.action = action
        self.kind = kind
        self.after = after
        self.limit = limit
    }
}
