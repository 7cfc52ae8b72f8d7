import Synchronization

/// A count of work in progress with a ceiling, shared across threads: what keeps slow work (token
/// checks, authorizer calls, certificate checks) from piling up without bound.
public final class ConcurrencyLimit: Sendable {
    public let limit: Int
    private let count = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes a place; false when all `limit` are taken (then nothing was taken).
    public func enter() -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    public func leave() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }
}
