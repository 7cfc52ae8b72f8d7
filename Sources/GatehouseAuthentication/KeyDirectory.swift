import GatehouseCore
import GatehouseOutbound
import Logging
import ServiceLifecycle
import Synchronization

/// Every key source the config names, kept across config changes (an apply does not refetch keys
/// it already has), with the verified-token cache they share. As a service it runs the schedule:
/// every few seconds each source retries if it has no keys, and refreshes once its keys are old.
public final class KeyDirectory: Service, Sendable {
    public let cache: VerifiedTokenCache
    /// Fetches JWKS and discovery documents; also the client the request path's other outbound
    /// calls (external authorizers) use, since this directory outlives every config snapshot.
    public let client: ControlPlaneClient
    private let logger: Logger
    private let sources = Mutex<(next: Int, bySource: [IssuerKeys.Source: IssuerKeys])>((1, [:]))
    /// Whether a source starts loading as soon as a config names it (the gateway), or only when a
    /// token needs its keys (`explain`, which must not reach out for keys it will not use).
    private let prefetch: Bool
    static let tick: Duration = .seconds(5)

    public init(client: ControlPlaneClient, cache: VerifiedTokenCache = VerifiedTokenCache(), prefetch: Bool = true, logger: Logger) {
        self.client = client
        self.cache = cache
        self.prefetch = prefetch
        self.logger = logger
    }

    /// The keys for a rule, created on first use; the first load starts at once, off the request path.
    func keys(for rule: RequestAuthenticationSpec.JWTRule) -> IssuerKeys {
        let source = IssuerKeys.Source(rule)
        let (keys, created) = sources.withLock { state -> (IssuerKeys, Bool) in
            if let existing = state.bySource[source] { return (existing, false) }
            let keys = IssuerKeys(id: state.next, source: source, timeout: rule.timeout, client: client, logger: logger) { [cache] id in
                cache.removeAll(keys: id)
            }
            state.next += 1
            state.bySource[source] = keys
            return (keys, true)
        }
        if created, prefetch { Task { _ = await keys.keySet() } }
        return keys
    }

    /// Forgets the sources no rule names any more (after an apply).
    public func retain(_ policies: [RequestAuthenticationSpec]) {
        let named = Set(policies.flatMap(\.jwtRules).map(IssuerKeys.Source.init))
        sources.withLock { state in
            let dropped = state.bySource.filter { source, _ in !named.contains(source) }
            for (source, keys) in dropped {
                state.bySource.removeValue(forKey: source)
                cache.removeAll(keys: keys.id)
            }
        }
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            // A shutdown ends the wait at once (Ctrl-C returns when nothing is in flight).
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.tick) }
            guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
            // Concurrently: one slow issuer must not hold up the others' refreshes.
            let current = sources.withLock { Array($0.bySource.values) }
            await withTaskGroup(of: Void.self) { group in
                for keys in current { group.addTask { await keys.scheduledRefresh() } }
            }
        }
    }
}
