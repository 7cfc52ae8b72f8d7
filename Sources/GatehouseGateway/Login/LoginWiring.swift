import GatehouseAuthentication
import GatehouseCore

/// What login at the gateway keeps across applies: the sessions (with their store and cookie keys)
/// and one client per OIDC provider (its discovery document; its keys live in the `KeyDirectory`).
/// Every snapshot's `RequireLogin` stage is built on the same one.
struct LoginWiring: Sendable {
    let sessions: LoginSessions
    let clients: LoginClients

    /// For a process that keeps no sessions (`explain`, pipeline tests): memory only, a fresh key.
    static func ephemeral(keys: KeyDirectory) -> LoginWiring {
        LoginWiring(sessions: LoginSessions(sealer: CookieSealer(current: .random(id: 1))), clients: LoginClients(keys: keys))
    }

    /// The RequestAuthentication-shaped rules whose keys the providers' ID tokens are verified with
    /// (`KeyDirectory.retain` keeps them across applies).
    static func keyRules(for mesh: MeshSpec) -> [RequestAuthenticationSpec] {
        mesh.loginProviders.map(LoginProviderClient.rule)
    }
}
