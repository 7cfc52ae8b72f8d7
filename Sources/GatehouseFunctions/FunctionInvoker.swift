import GatehouseCore
import GatehouseExchange

/// ⑥ The last step of the request path: hand the exchange to its function's activator.
///
/// Built with each config snapshot from the revision pools `FunctionRuntime` committed and the
/// remote functions, so a request reaches the upstream of the snapshot it started on.
public struct FunctionInvoker: Sendable {
    private let pools: [RevisionKey: any FunctionUpstream]

    public init(pools: [RevisionKey: any FunctionUpstream]) {
        self.pools = pools
    }

    /// Runs on the exchange's event loop; the exchange ends when the function's response does.
    /// `place` may put the revision's own upstream behind another (another node of the mesh runs it).
    public func invoke(
        _ exchange: Exchange, destination: FunctionDestination, place: ((any FunctionUpstream) -> any FunctionUpstream)? = nil
    ) {
        guard let pool = pools[destination.revisionKey] else {
            exchange.record.responseFlags.insert(.noRoute)
            exchange.fail(GatehouseError(.routeNotFound, detail: "revision \(destination.revisionKey) has no pool"))
            return
        }
        let mirrors = exchange.record.mirrors.compactMap { mirror in pools[mirror.revisionKey].map { (mirror, $0) } }
        ForwardedExchange(client: exchange, pool: place?(pool) ?? pool, mirrors: mirrors).start()
    }

    /// Whether this snapshot serves `key` (another node may ask for one this node has not applied yet).
    public func serves(_ key: RevisionKey) -> Bool {
        pools[key] != nil
    }
}
