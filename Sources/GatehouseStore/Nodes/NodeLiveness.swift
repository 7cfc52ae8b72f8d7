/// The rules of the node registry, as plain values (no store, no clock): what state a node is in,
/// and who may take a name. Both stores run their rows through these, inside their transactions.
public enum NodeLiveness {
    /// `Ready` while the last heartbeat is younger than `goneAfter`.
    public static func state(sinceHeartbeat: Duration, goneAfter: Duration) -> NodeState {
        sinceHeartbeat < goneAfter ? .ready : .notReady
    }

    /// Whether `owner` may take a name `holder` holds (nil: nobody does).
    public static func claim(by owner: String, holder: NodeRecord?) -> NodeClaimDecision {
        guard let holder else { return .free }
        if holder.owner == owner { return .restarted(holder) }
        return holder.state == .ready ? .refused(holder) : .takenOverFromGone(holder)
    }
}
