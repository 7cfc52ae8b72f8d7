import NIOConcurrencyHelpers

/// Signed assertions kept per (caller, function), so the hot path signs nothing: a token is reused
/// until half its lifetime has passed, then signed again on the next request. Bounded: past
/// `capacity` entries the expired ones go, and if none has expired, all of them (each is re-signed
/// on its next use). Emptied when the signing key changes.
final class AssertionCache: Sendable {
    struct Entry: Sendable {
        let token: String
        /// Seconds since the epoch after which the token is signed again (half its life).
        let renewAfter: Int64
        let expires: Int64
    }

    let capacity: Int
    private let entries = NIOLockedValueBox<[AssertionSubject: Entry]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func token(for subject: AssertionSubject, now: Int64) -> String? {
        entries.withLockedValue { entries in
            guard let entry = entries[subject], now < entry.renewAfter else { return nil }
            return entry.token
        }
    }

    func keep(_ token: String, for subject: AssertionSubject, issuedAt: Int64, lifetime: Int64) {
        entries.withLockedValue { entries in
            if entries.count >= capacity, entries[subject] == nil {
                entries = entries.filter { $0.value.expires > issuedAt }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[subject] = Entry(token: token, renewAfter: issuedAt + lifetime / 2, expires: issuedAt + lifetime)
        }
    }

    func removeAll() {
        entries.withLockedValue { $0.removeAll() }
    }

    var count: Int { entries.withLockedValue { $0.count } }
}
