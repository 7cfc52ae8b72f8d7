/// Which node fires a scheduled minute when several nodes share one store: PingSources fire once
/// per mesh, not once per node. A store that only one node uses (SQLite) needs none — the event
/// store's own fired mark already makes a minute fire once per node.
public protocol ScheduleClaims: Sendable {
    /// True for exactly one claimer per `(schedule, minute)` across every node of the store (and
    /// again for that claimer: a tick whose storing failed is retried); the others skip that
    /// minute. `node` must be unique to the process (a name two processes share would both win). A node that claims and dies before storing the tick loses it, as
    /// Knative's PingSource adapter loses a tick across a leader change.
    func claim(schedule: String, minute: Int64, node: String) async throws(StoreError) -> Bool
}
