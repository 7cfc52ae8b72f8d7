/// Service accounts Gatehouse issues SVIDs to for itself, in the Mesh's root namespace: the
/// gateway (`gatehouse`) and the audit log's checkpoint signer (`gatehouse-audit`).
///
/// No workload may run as one, in any namespace: a Function naming one is a config error and
/// `gatehouse ca issue` refuses them. Otherwise a function would hold a key whose SPIFFE ID is
/// Gatehouse's own — and could, for instance, sign audit checkpoints over a rewritten log.
public enum ReservedServiceAccounts {
    /// The gateway's own identity (mesh listener, calls to remote functions as itself).
    public static let gateway = "gatehouse"
    /// Signs audit checkpoints (`AuditSigner`).
    public static let audit = "gatehouse-audit"

    public static let all: Set<String> = [gateway, audit]

    /// The service accounts the broker delivers events as: `gatehouse-broker.BROKER.TRIGGER`.
    public static let brokerPrefix = "gatehouse-broker."

    /// The service accounts a PingSource delivers to its sink as: `gatehouse-pingsource.NAME`.
    public static let pingSourcePrefix = "gatehouse-pingsource."

    public static func contains(_ serviceAccount: String) -> Bool {
        all.contains(serviceAccount) || serviceAccount.hasPrefix(brokerPrefix) || serviceAccount.hasPrefix(pingSourcePrefix)
    }
}
