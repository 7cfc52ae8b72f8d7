import GatehouseCore
import GatehouseEvents
import NIOCore
import NIOHTTP1

/// Event delivery, schedules and async calls reach functions through `LocalInvoker`: the same
/// stages as any request, as the mesh identity the call carries, with the attempt's timeout.
struct LocalEventInvoker: EventInvoker {
    let invoker: LocalInvoker
    /// The mesh's trust domains: an identity in one of them is a mesh principal.
    let trustDomains: Set<String>

    func send(_ call: OutgoingCall) async -> CallAnswer {
        var request = LocalInvoker.Request(
            method: HTTPMethod(rawValue: call.method), host: call.host, path: call.path, headers: call.headers,
            body: call.body.isEmpty ? nil : ByteBuffer(bytes: call.body))
        if let identity = call.identity { request.peer = peer(identity) }
        let (invoker, prepared) = (invoker, request)
        return await withTaskGroup(of: CallAnswer?.self) { group in
            group.addTask {
                switch await invoker.invoke(prepared) {
                case .success(let response):
                    return .response(
                        status: response.status, headers: response.headers.map { ($0.name, $0.value) }, body: Array(response.body.readableBytesView))
                case .failure(.refused(let error)):
                    return .failed(reason: "refused before any stage: \(error.detail)")
                case .failure(.incomplete(let failure)):
                    return .failed(reason: "the response did not complete (\(failure))")
                }
            }
            if let timeout = call.timeout {
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return Task.isCancelled ? nil : .failed(reason: "no response within \(timeout)")
                }
            }
            // The first answer wins; a timeout cancels the call (the function's work is let go).
            while let answer = await group.next() {
                if let answer {
                    group.cancelAll()
                    return answer
                }
            }
            return .failed(reason: "cancelled")
        }
    }

    /// The SVID the call stands for, as the mesh listener would have verified it.
    private func peer(_ identity: String) -> PeerIdentity {
        let principal = identity.hasPrefix("spiffe://") ? String(identity.dropFirst("spiffe://".count)) : identity
        let domain = principal.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        return PeerIdentity(principal: trustDomains.contains(domain) ? principal : nil, uri: identity, certificateHash: "")
    }
}
