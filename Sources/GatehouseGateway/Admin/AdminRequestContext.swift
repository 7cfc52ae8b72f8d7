import Hummingbird
import NIOCore

/// Hummingbird's request context plus the caller's address, for the audit lines, and — on the
/// mutual TLS admin listener — the caller's verified SPIFFE ID.
struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    let channel: any Channel
    /// Set by `AdminIdentityAuthenticator`: who called, instead of the token.
    var adminIdentity: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// `/api/v1/apply` reads its body itself, with its own limit and a JSON 413.
    var maxUploadSize: Int { AdminAPI.maxRequestBytes }
}
