import Hummingbird
import NIOCore

/// Hummingbird's request context plus the caller's address, for the audit lines.
struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// `/api/v1/apply` reads its body itself, with its own limit and a JSON 413.
    var maxUploadSize: Int { AdminAPI.maxRequestBytes }
}
