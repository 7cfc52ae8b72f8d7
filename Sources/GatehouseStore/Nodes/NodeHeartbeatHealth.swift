/// What a node's heartbeats have been doing, reduced to what is worth saying in its log: each
/// change once, not every interval (a store down for an hour is one warning, and one notice when
/// it is back). Outcomes in, reports out; no store, no clock, no logger.
public struct NodeHeartbeatHealth: Sendable, Hashable {
    /// How one heartbeat went.
    public enum Outcome: Sendable, Hashable {
        /// The heartbeat was written.
        case written
        /// The row was no longer this node's, and it has claimed its name again.
        case reclaimed
        /// The row was no longer this node's, and a `Ready` node of another state directory holds the name.
        case nameHeld(by: NodeRecord)
        /// The store could not be written (the error's description).
        case storeFailed(String)
    }

    /// What to say about it.
    public enum Report: Sendable, Hashable {
        /// Heartbeats are written again after failures or a lost name.
        case recovered
        /// The node had dropped out of the registry and is back under its name.
        case reclaimed
        /// Another node holds this node's name: it is out of the registry until the name is free.
        case nameLost(holder: NodeRecord)
        /// Heartbeats cannot be written; the others will see this node `NotReady`.
        case storeFailing(String)
    }

    public enum Condition: Sendable, Hashable {
        case fine, storeFailing, nameLost
    }

    public private(set) var condition = Condition.fine

    public init() {}

    /// Takes one heartbeat's outcome; what to log, or nil when nothing changed.
    public mutating func record(_ outcome: Outcome) -> Report? {
        let previous = condition
        switch outcome {
        case .written:
            condition = .fine
            return previous == .fine ? nil : .recovered
        case .reclaimed:
            condition = .fine
            return .reclaimed
        case .nameHeld(let holder):
            condition = .nameLost
            return previous == .nameLost ? nil : .nameLost(holder: holder)
        case .storeFailed(let error):
            condition = .storeFailing
            return previous == .storeFailing ? nil : .storeFailing(error)
        }
    }
}
