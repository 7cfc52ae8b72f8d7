import Foundation
import GatehouseCore
import NIOConcurrencyHelpers

/// Which functions require a logged-in person, and with which provider: the LoginPolicies of one
/// config snapshot, resolved per function when the snapshot is built (the first policy that
/// applies, in the order of the config, decides), so a request costs one dictionary probe.
public struct LoginGate: Sendable {
    public struct Entry: Sendable {
        /// `NAMESPACE/NAME` of the LoginPolicy.
        public let policy: String
        public let client: LoginProviderClient
        public let sessionLifetime: Int64
    }

    private let byFunction: [FunctionKey: Entry]

    public init(policies: [LoginPolicySpec], functions: [FunctionSpec], rootNamespace: String, providers: [OIDCLoginProvider], clients: LoginClients) {
        var byFunction: [FunctionKey: Entry] = [:]
        for function in functions {
            guard let policy = policies.first(where: { $0.applies(to: function, rootNamespace: rootNamespace) }),
                  let provider = providers.first(where: { $0.name == policy.provider }) else { continue }
            byFunction[function.key] = Entry(
                policy: policy.reference, client: clients.client(for: provider), sessionLifetime: policy.sessionLifetime.components.seconds)
        }
        self.byFunction = byFunction
    }

    public func entry(for function: FunctionKey) -> Entry? { byFunction[function] }
    public var isEmpty: Bool { byFunction.isEmpty }
}

/// The login flow's long-lived parts, kept across applies: the sessions and one client per provider
/// (so a provider's discovery document is not fetched again at every apply).
public final class LoginClients: Sendable {
    private let keys: KeyDirectory
    private let clients = NIOLockedValueBox<[OIDCLoginProvider: LoginProviderClient]>([:])

    public init(keys: KeyDirectory) {
        self.keys = keys
    }

    /// The client for `provider`, its secret read from `clientSecretFile` (whitespace around it trimmed).
    public func client(for provider: OIDCLoginProvider) -> LoginProviderClient {
        clients.withLockedValue { clients in
            if let known = clients[provider] { return known }
            let secret = (try? String(contentsOfFile: provider.clientSecretFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let client = LoginProviderClient(provider: provider, secret: secret, client: keys.client, keys: keys)
            clients[provider] = client
            return client
        }
    }

    /// Forgets the clients of providers no config names any more (after an apply): a provider
    /// edited a hundred times leaves one client, not a hundred.
    public func retain(_ providers: [OIDCLoginProvider]) {
        let kept = Set(providers)
        clients.withLockedValue { clients in clients = clients.filter { kept.contains($0.key) } }
    }

    /// Clients held now (tests).
    public var count: Int { clients.withLockedValue { $0.count } }
}
