/// An RFC 8693 delegation chain: who acts for the token's subject. The `act` claim nests — the
/// outermost `sub` is the current actor, each inner `act` the one before it — so a chain of agents
/// calling agents is read outward-in. Bounded: at most `maximumDepth` levels are read.
public struct ActorChain: Sendable, Hashable {
    /// The actors, the current one first.
    public var actors: [String]

    /// Deeper chains are not read (and are never issued: a DelegationPolicy's `maxDepth` is at most 8).
    public static let maximumDepth = 16

    public init(actors: [String]) {
        self.actors = actors
    }

    /// Reads an `act` claim; an object without a string `sub` ends the chain there.
    public init(claim: ClaimValue?) {
        var actors: [String] = []
        var level = claim
        while actors.count < Self.maximumDepth, case .object(let object) = level, case .string(let subject) = object["sub"] {
            actors.append(subject)
            level = object["act"]
        }
        self.actors = actors
    }

    public var depth: Int { actors.count }
    public var isEmpty: Bool { actors.isEmpty }

    /// This chain with `actor` acting on top of it (the new current actor).
    public func adding(_ actor: String) -> ActorChain { ActorChain(actors: [actor] + actors) }

    /// The `act` claim that says this chain; nil when empty.
    public var claim: ClaimValue? {
        var claim: ClaimValue?
        for actor in actors.reversed() {
            var object: [String: ClaimValue] = ["sub": .string(actor)]
            if let inner = claim { object["act"] = inner }
            claim = .object(object)
        }
        return claim
    }
}
