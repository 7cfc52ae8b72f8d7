import Foundation

/// A signature over the chain's head: "record `seq` has hash `hash`", signed with a key whose
/// certificate chains to the mesh CA. Rewriting records before it — even recomputing every hash
/// after the change — no longer matches what was signed. Each checkpoint also names the one
/// before it (`previous`), so removing a checkpoint is seen too.
public struct AuditCheckpoint: Sendable, Hashable, Codable {
    /// The record it covers (the chain's last record when it was made).
    public var seq: Int64
    /// That record's hash (hex).
    public var hash: String
    /// The record the previous checkpoint covered; 0 for the first.
    public var previous: Int64
    /// When it was signed, ISO 8601 as signed (text, so the signed bytes never depend on a round trip).
    public var at: String
    /// The signing certificate's SPIFFE ID.
    public var signer: String
    /// SHA-256 of the signing certificate's DER (hex): its chain is kept once, in `AuditSigner`.
    public var signerFingerprint: String
    /// ECDSA over `payload`'s UTF-8, DER, base64.
    public var signature: String

    public init(seq: Int64, hash: String, previous: Int64, at: String, signer: String, signerFingerprint: String, signature: String) {
        self.seq = seq
        self.hash = hash
        self.previous = previous
        self.at = at
        self.signer = signer
        self.signerFingerprint = signerFingerprint
        self.signature = signature
    }

    /// The bytes signed: canonical JSON of what the checkpoint states.
    public var payload: String {
        Self.payload(seq: seq, hash: hash, previous: previous, at: at, signer: signer)
    }

    public var date: Date? { AuditCoding.date(at) }

    public static func payload(seq: Int64, hash: String, previous: Int64, at: String, signer: String) -> String {
        AuditCoding.canonical(Payload(seq: seq, hash: hash, previous: previous, at: at, signer: signer))
    }

    private struct Payload: Encodable {
        var seq: Int64
        var hash: String
        var previous: Int64
        var at: String
        var signer: String
    }
}

/// A certificate chain that signs checkpoints: the leaf (its SPIFFE ID is `gatehouse-audit`'s),
/// any intermediates, and the root, PEM. Kept once per signing certificate.
public struct AuditSignerChain: Sendable, Hashable, Codable {
    public var fingerprint: String
    public var spiffeId: String
    public var pem: String

    public init(fingerprint: String, spiffeId: String, pem: String) {
        self.fingerprint = fingerprint
        self.spiffeId = spiffeId
        self.pem = pem
    }
}

/// Where the chain starts once retention removed its oldest records: the checkpoint it was cut at.
/// The first remaining record must follow `hash`, and that checkpoint is kept, so the anchor
/// itself is signed.
public struct AuditAnchor: Sendable, Hashable, Codable {
    public var seq: Int64
    public var hash: String
    public var at: Date

    public init(seq: Int64, hash: String, at: Date) {
        self.seq = seq
        self.hash = hash
        self.at = at
    }
}

/// The chain's end as a writer sees it, inside its transaction.
public struct AuditHead: Sendable, Hashable {
    /// The last record (0 and the genesis or anchor hash when there is none).
    public var seq: Int64
    public var hash: String
    /// The record the newest checkpoint covers (0: none yet).
    public var checkpointSeq: Int64
    /// The newest checkpoint's own `audit.checkpoint` record (or `checkpointSeq` without one):
    /// that record needs no checkpoint of its own, or each would call for the next.
    public var signedSeq: Int64

    public init(seq: Int64, hash: String, checkpointSeq: Int64, signedSeq: Int64? = nil) {
        self.seq = seq
        self.hash = hash
        self.checkpointSeq = checkpointSeq
        self.signedSeq = signedSeq ?? checkpointSeq
    }

    /// Records not yet covered by a checkpoint.
    public var unsigned: Int64 { seq - signedSeq }
}
