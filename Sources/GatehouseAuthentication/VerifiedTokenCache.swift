import GatehouseCore
import Synchronization

/// Tokens whose signature a key set verified, so a token seen again costs a dictionary lookup
/// instead of a signature check (tens of microseconds; docs/performance.md).
///
/// Keyed by the key source, its generation and the token: a token verified by one issuer's keys
/// proves nothing for another rule's keys, nor after those keys changed (even if the change landed
/// while the token was being verified). An entry lives until the token's `exp`, at most `maximumAge`. Time, issuer and audience are still checked on every request, per rule.
/// At most `capacity` entries; when full, expired ones go first, then half of the rest.
public final class VerifiedTokenCache: Sendable {
    struct Key: Hashable {
        let keys: Int
        let generation: Int
        let token: String
    }

    struct Entry {
        let jwt: VerifiedJWT
        let until: Int64
    }

    public static let maximumAge: Int64 = 600
    public let capacity: Int
    private let entries = Mutex<[Key: Entry]>([:])

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func lookup(keys: Int, generation: Int, token: String, now: Int64) -> VerifiedJWT? {
        entries.withLock { entries in
            guard let entry = entries[Key(keys: keys, generation: generation, token: token)], entry.until > now else { return nil }
            return entry.jwt
        }
    }

    func insert(_ jwt: VerifiedJWT, keys: Int, generation: Int, token: String, now: Int64) {
        let until = min(jwt.expires ?? .max, now + Self.maximumAge)
        guard until > now, capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.until > now }
                if entries.count >= capacity {
                    var kept = 0
                    entries = entries.filter { _ in kept += 1; return kept <= capacity / 2 }
                }
            }
            entries[Key(keys: keys, generation: generation, token: token)] = Entry(jwt: jwt, until: until)
        }
    }

    /// Frees the entries of a source whose keys changed or that is gone (they can no longer match).
    func removeAll(keys: Int) {
        entries.withLock { entries in entries = entries.filter { $0.key.keys != keys } }
    }

    public var count: Int { entries.withLock { $0.count } }
}
