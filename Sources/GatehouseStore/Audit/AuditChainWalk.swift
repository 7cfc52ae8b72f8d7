import Foundation

/// Walks a stored chain, oldest record first, and names the first record that was changed,
/// removed or inserted. A plain value fed rows by whatever reads the store (`SQLiteAuditLog.walk`),
/// so it is tested without a database.
///
/// What it sees, and how:
/// - a record whose content does not hash to its stored hash: changed;
/// - a record chained to another hash than its predecessor's: the predecessor was changed (its
///   hash recomputed) — or, when it is chained to the one before that, inserted;
/// - a gap in the sequence, or a record whose content names another place than its row: removed or
///   inserted (records renumbered to hide it);
/// - an indexed column (`kind`, `function`, …) that differs from the hashed content: changed;
/// - a checkpoint whose record is gone or has another hash than the one signed: records at or
///   before it were removed or rewritten (a chain rewritten whole hashes consistently; only the
///   signature shows it). A checkpoint whose predecessor is gone: a checkpoint was removed.
/// - an `audit.checkpoint` record (each checkpoint appends one) whose checkpoint is gone: a
///   checkpoint was removed — so deleting every checkpoint and rehashing the chain needs those
///   records gone too, and then:
/// - records and no checkpoint, or a `gatehouse.started` record no checkpoint covers (one is
///   signed at every start): checkpoints were removed;
/// - a checkpoint kept outside (`outside`, from `gatehouse audit checkpoint`) whose record is gone
///   or has another hash: the chain was cut or rewritten after it.
///
/// Records after the last checkpoint can still be removed together with the checkpoints after
/// them, or appended, without a trace in the file alone: only a checkpoint kept elsewhere shows
/// that (docs/security.md). Signatures are checked by `AuditVerifier`, which needs the trust bundle.
public struct AuditChainWalk: Sendable {
    /// One stored record as read, columns and all.
    public struct Row: Sendable {
        public var seq: Int64
        public var at: String
        public var kind: String
        public var requestId: String?
        public var traceId: String?
        public var sourcePrincipal: String?
        public var requestPrincipal: String?
        public var function: String?
        public var decision: String?
        public var action: String?
        public var body: String
        public var previousHash: String
        public var hash: String

        public init(
            seq: Int64, at: String, kind: String, requestId: String? = nil, traceId: String? = nil, sourcePrincipal: String? = nil,
            requestPrincipal: String? = nil, function: String? = nil, decision: String? = nil, action: String? = nil,
            body: String, previousHash: String, hash: String
        ) {
            self.seq = seq
            self.at = at
            self.kind = kind
            self.requestId = requestId
            self.traceId = traceId
            self.sourcePrincipal = sourcePrincipal
            self.requestPrincipal = requestPrincipal
            self.function = function
            self.decision = decision
            self.action = action
            self.body = body
            self.previousHash = previousHash
            self.hash = hash
        }

        /// The row a writer stores for `record`.
        public init(_ record: AuditRecord) {
            let event = record.event
            self.init(
                seq: record.seq, at: AuditCoding.timestamp(event.at), kind: event.kind.rawValue, requestId: event.requestId,
                traceId: event.traceId, sourcePrincipal: event.sourcePrincipal, requestPrincipal: event.requestPrincipal,
                function: event.function, decision: event.decision, action: event.action, body: record.body,
                previousHash: record.previousHash, hash: record.hash)
        }
    }

    /// A `ca.rotated` record: it vouches for the root it replaced, for checkpoints before it.
    public struct Rotation: Sendable, Hashable, Codable {
        public var seq: Int64
        public var previousRootFingerprint: String
    }

    public struct Result: Sendable {
        public var anchor: AuditAnchor?
        public var records = 0
        public var firstSeq: Int64?
        public var lastSeq: Int64?
        /// The first thing found wrong with the chain itself (signatures aside).
        public var problem: AuditProblem?
        public var checkpoints: [AuditCheckpoint] = []
        public var signers: [String: AuditSignerChain] = [:]
        public var rotations: [Rotation] = []
        /// The newest record a checkpoint vouches for: its seq, or its own `audit.checkpoint` record.
        public var signedSeq: Int64?
    }

    private var result = Result()
    private var expectedSeq: Int64
    private var lastHash: String
    private var hashBeforeLast: String?
    private var nextCheckpoint = 0
    /// The record the last checkpoint seen covered, for the `previous` link.
    private var lastCheckpointSeq: Int64?
    private var anchorPruneSeen = false
    private let checkpointHashes: [Int64: String]
    /// The newest `gatehouse.started` record (not carried forward): a checkpoint must cover it.
    private var latestStart: Int64?
    /// A checkpoint the operator kept outside the state directory.
    private let outside: AuditCheckpoint?

    /// `checkpoints` in any order; `signers` by fingerprint; `outside`: a checkpoint exported
    /// earlier (`gatehouse audit checkpoint`), which the chain must still reach and match.
    public init(anchor: AuditAnchor?, checkpoints: [AuditCheckpoint], signers: [AuditSignerChain], outside: AuditCheckpoint? = nil) {
        self.outside = outside
        checkpointHashes = Dictionary(checkpoints.map { ($0.seq, $0.hash) }, uniquingKeysWith: { first, _ in first })
        result.anchor = anchor
        result.checkpoints = checkpoints.sorted { $0.seq < $1.seq }
        result.signers = Dictionary(signers.map { ($0.fingerprint, $0) }, uniquingKeysWith: { first, _ in first })
        expectedSeq = (anchor?.seq ?? 0) + 1
        lastHash = anchor?.hash ?? AuditRecord.genesis
        guard let anchor else { return }
        // The anchor is a kept checkpoint: it must be there, signing the anchor's hash.
        guard let kept = result.checkpoints.first(where: { $0.seq == anchor.seq }) else {
            fail(.checkpoint, anchor.seq, "the chain starts after record \(anchor.seq) (its anchor), but the checkpoint that signed that record is missing")
            return
        }
        if kept.hash != anchor.hash {
            fail(.changed, anchor.seq, "the anchor was changed: it says record \(anchor.seq) had hash \(anchor.hash), its checkpoint signed \(kept.hash)")
        }
    }

    public var problem: AuditProblem? { result.problem }

    public mutating func visit(_ row: Row) {
        guard result.problem == nil else { return }
        result.records += 1
        if result.firstSeq == nil { result.firstSeq = row.seq }
        result.lastSeq = row.seq
        // Checkpoints that signed a record before this one, which the walk never met.
        while nextCheckpoint < result.checkpoints.count, result.checkpoints[nextCheckpoint].seq < row.seq {
            let checkpoint = result.checkpoints[nextCheckpoint]
            nextCheckpoint += 1
            if checkpoint.seq == result.anchor?.seq {
                lastCheckpointSeq = checkpoint.seq
                continue
            }
            return fail(.removed, checkpoint.seq, "record \(checkpoint.seq) was removed: a checkpoint signed it, and it is not in the chain")
        }
        guard let event = try? AuditCoding.decoder.decode(AuditEvent.self, from: Data(row.body.utf8)) else {
            return fail(.changed, row.seq, "record \(row.seq) was changed: its content is not an audit record")
        }
        let contentSeq = event.seq ?? -1
        if row.seq > expectedSeq {
            let missing = expectedSeq == row.seq - 1 ? "record \(expectedSeq) was" : "records \(expectedSeq)–\(row.seq - 1) were"
            return fail(.removed, expectedSeq, "\(missing) removed: the chain goes from \(expectedSeq - 1) to \(row.seq)")
        }
        if contentSeq < row.seq {
            return fail(.inserted, row.seq - 1, "record \(row.seq - 1) was inserted: the record after it says it is record \(contentSeq)")
        }
        if contentSeq > row.seq {
            return fail(.removed, row.seq, "record \(row.seq) was removed: the records after it were renumbered (the row now at \(row.seq) says it is record \(contentSeq))")
        }
        if AuditRecord.link(row.previousHash, row.body) != row.hash {
            return fail(.changed, row.seq, "record \(row.seq) was changed: its content no longer matches its hash")
        }
        if row.previousHash != lastHash {
            if let hashBeforeLast, row.previousHash == hashBeforeLast {
                return fail(.inserted, row.seq - 1, "record \(row.seq - 1) was inserted: record \(row.seq) is chained to the record before it")
            }
            return fail(.changed, row.seq - 1, "record \(row.seq - 1) was changed: record \(row.seq) was chained to a different hash")
        }
        if let column = Self.columnDiffering(row, from: event) {
            return fail(.changed, row.seq, "record \(row.seq) was changed: its \(column) column differs from its hashed content")
        }
        hashBeforeLast = lastHash
        lastHash = row.hash
        expectedSeq = row.seq + 1
        if event.kind == .caRotated, let root = event.previousRootFingerprint {
            result.rotations.append(Rotation(seq: row.seq, previousRootFingerprint: root))
        }
        if event.kind == .pruned, let anchor = result.anchor, event.anchorSeq == anchor.seq { anchorPruneSeen = true }
        if event.kind == .started, event.carriedFrom == nil { latestStart = row.seq }
        if event.kind == .checkpointed {
            // Each checkpoint appends this record in its own transaction, right after what it signed.
            guard let signed = event.checkpointSeq, signed == row.seq - 1 else {
                return fail(.changed, row.seq, "record \(row.seq) was changed: an audit.checkpoint record must follow the record its checkpoint signed")
            }
            guard let hash = checkpointHashes[signed], hash == event.checkpointHash else {
                return fail(.checkpoint, signed, "the checkpoint at record \(signed) was removed: record \(row.seq) says it was signed, and it is not kept (audit_checkpoint)")
            }
            result.signedSeq = row.seq
        }
        if let outside, outside.seq == row.seq, outside.hash != row.hash {
            let after = lastCheckpointSeq ?? result.anchor?.seq ?? 0
            return fail(.rewritten, after + 1,
                "records after \(after) and up to \(row.seq) were changed, removed or inserted and the chain rewritten: the checkpoint kept outside (record \(row.seq)) signed another hash")
        }
        while nextCheckpoint < result.checkpoints.count, result.checkpoints[nextCheckpoint].seq == row.seq {
            let checkpoint = result.checkpoints[nextCheckpoint]
            nextCheckpoint += 1
            if let lastCheckpointSeq, checkpoint.previous != lastCheckpointSeq {
                return fail(.checkpoint, checkpoint.seq, "a checkpoint was removed: the checkpoint at record \(checkpoint.seq) follows the one at record \(checkpoint.previous), which is gone")
            }
            if lastCheckpointSeq == nil, result.anchor == nil, checkpoint.previous != 0 {
                return fail(.checkpoint, checkpoint.seq, "a checkpoint was removed: the first checkpoint (record \(checkpoint.seq)) follows one at record \(checkpoint.previous), which is gone")
            }
            if checkpoint.hash != row.hash {
                let after = lastCheckpointSeq ?? result.anchor?.seq ?? 0
                return fail(.rewritten, after + 1,
                    "records after \(after) and up to \(row.seq) were changed, removed or inserted and the chain rewritten: the checkpoint at record \(row.seq) signed another hash")
            }
            lastCheckpointSeq = checkpoint.seq
            result.signedSeq = max(result.signedSeq ?? 0, checkpoint.seq)
        }
    }

    /// What the walk found, once every row was visited.
    public mutating func finish() -> Result {
        guard result.problem == nil else { return result }
        let last = result.lastSeq ?? result.anchor?.seq ?? 0
        for checkpoint in result.checkpoints[nextCheckpoint...] where checkpoint.seq != result.anchor?.seq {
            fail(.removed, last + 1, "records after \(last) were removed: a checkpoint signed record \(checkpoint.seq), which is not in the chain")
            return result
        }
        if let anchor = result.anchor, !anchorPruneSeen {
            fail(.checkpoint, anchor.seq + 1,
                "the chain starts after record \(anchor.seq), but no audit.pruned record says retention cut it there: records before it may have been removed")
        }
        if let first = result.firstSeq, result.checkpoints.isEmpty {
            fail(.checkpoint, first,
                "records \(first)–\(last) are under no checkpoint: checkpoints were removed (Gatehouse signs one at every start)")
        }
        if let latestStart, (lastCheckpointSeq ?? 0) < latestStart {
            fail(.checkpoint, latestStart,
                "record \(latestStart) (gatehouse.started) is under no checkpoint: the checkpoints after it were removed (Gatehouse signs one at every start)")
        }
        if let outside, outside.seq > last {
            fail(.removed, last + 1,
                "records after \(last) were removed: the checkpoint kept outside signed record \(outside.seq), which is not in the chain")
        } else if let outside, let anchor = result.anchor, outside.seq == anchor.seq, outside.hash != anchor.hash {
            fail(.rewritten, anchor.seq, "the chain was rewritten: its anchor (record \(anchor.seq)) is not the checkpoint kept outside")
        }
        return result
    }

    private mutating func fail(_ kind: AuditProblem.Kind, _ seq: Int64, _ message: String) {
        if result.problem == nil { result.problem = AuditProblem(kind: kind, seq: seq, message: message) }
    }

    /// The first indexed column whose value is not the hashed content's.
    static func columnDiffering(_ row: Row, from event: AuditEvent) -> String? {
        if AuditCoding.date(row.at) != event.at { return "at" }
        if row.kind != event.kind.rawValue { return "kind" }
        let pairs: [(String, String?, String?)] = [
            ("requestId", row.requestId, event.requestId), ("traceId", row.traceId, event.traceId),
            ("sourcePrincipal", row.sourcePrincipal, event.sourcePrincipal), ("requestPrincipal", row.requestPrincipal, event.requestPrincipal),
            ("function", row.function, event.function), ("decision", row.decision, event.decision), ("action", row.action, event.action),
        ]
        return pairs.first { $0.1 != $0.2 }?.0
    }
}

/// What `gatehouse audit verify` reports: the first record that was changed, removed or inserted,
/// or a checkpoint that does not verify.
public struct AuditProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case changed, removed, inserted
        /// The chain was rewritten consistently between two checkpoints; only the signature shows it.
        case rewritten
        /// A checkpoint is missing, does not verify, or is not signed by a trusted audit key.
        case checkpoint
    }

    public var kind: Kind
    /// The record named (the first one at fault, as far as the chain can tell).
    public var seq: Int64
    public var message: String

    public init(kind: Kind, seq: Int64, message: String) {
        self.kind = kind
        self.seq = seq
        self.message = message
    }

    public var description: String { message }
}
