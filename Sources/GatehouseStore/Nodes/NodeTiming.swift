/// How often a node heartbeats into the store, and when the others stop counting on it.
///
/// A node writes a heartbeat every `heartbeatInterval` (default 5 s). It is `Ready` while its last
/// heartbeat is younger than `goneAfter` — `missedHeartbeats` intervals (default 3, so 15 s) —
/// and `NotReady` after, by the store's clock. Its row is deleted (by any node) once its last
/// heartbeat is older than `forgetAfter` (default 24 h), so the table never grows without bound.
/// A node that stops cleanly deletes its own row at once.
public struct NodeTiming: Sendable, Hashable {
    public var heartbeatInterval: Duration
    public var missedHeartbeats: Int
    public var forgetAfter: Duration

    public init(heartbeatInterval: Duration = .seconds(5), missedHeartbeats: Int = 3, forgetAfter: Duration = .seconds(24 * 3600)) {
        self.heartbeatInterval = heartbeatInterval
        self.missedHeartbeats = missedHeartbeats
        self.forgetAfter = forgetAfter
    }

    /// How long after its last heartbeat a node is `NotReady`. Written into the node's row, so every
    /// reader judges a node by the interval that node promised, whatever its own.
    public var goneAfter: Duration { heartbeatInterval * missedHeartbeats }
}
