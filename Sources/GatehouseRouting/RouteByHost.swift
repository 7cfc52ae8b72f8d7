import GatehouseCore

/// ④ Routing: picks the function from the `Host` header; none matches → 404 with flag `NR`.
public struct RouteByHost: RequestStage {
    public let router: HostRouter

    public init(router: HostRouter) {
        self.router = router
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let destination = router.destination(forHost: record.authority) else {
            record.responseFlags.insert(.noRoute)
            return .reject(GatehouseError(.routeNotFound, detail: "no function serves host \"\(record.authority)\""))
        }
        record.destination = destination
        return .proceed
    }
}
