import NIOConcurrencyHelpers

/// `state` values already used at the callback: a second use is a replay (a leaked callback URL,
/// a back button) and is refused. Each is kept until its login would have expired anyway; bounded,
/// and when full the oldest expiry goes first — a state that old is refused by its expiry.
public final class ConsumedStates: Sendable {
    private let used = NIOLockedValueBox<[String: Int64]>([:])
    public let capacity: Int

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// True the first time `state` is seen (it is then used up); false on any later call.
    public func consume(_ state: String, expires: Int64, now: Int64) -> Bool {
        used.withLockedValue { used in
            guard used[state] == nil else { return false }
            if used.count >= capacity {
                used = used.filter { $0.value > now }
                if used.count >= capacity, let oldest = used.min(by: { $0.value < $1.value })?.key { used.removeValue(forKey: oldest) }
            }
            used[state] = expires
            return true
        }
    }
}
