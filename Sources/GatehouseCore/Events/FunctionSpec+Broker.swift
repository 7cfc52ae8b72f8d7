extension FunctionSpec {
    /// The built-in workload a Broker's ingress is to the request path: in the Broker's namespace,
    /// with its labels, named `broker/NAME` (no Function can be: a name is one DNS label), so that
    /// AuthorizationPolicy, RequestAuthentication, PeerAuthentication and RateLimitPolicy apply to
    /// publishing as to any workload — namespace-wide ones, `selector`s matching the Broker's
    /// labels, and `targetRefs` naming the Broker (`kind: Broker`).
    public static func brokerIngress(for broker: BrokerSpec) -> FunctionSpec {
        var spec = FunctionSpec(
            name: brokerIngressName(broker.name), namespace: broker.namespace, labels: broker.labels, process: ProcessSpec(command: []),
            serviceAccount: ReservedServiceAccounts.brokerPrefix + broker.name, source: broker.source)
        spec.workload = .broker(namespace: broker.namespace, name: broker.name)
        return spec
    }

    /// The workload name `targetRefs: [{kind: Broker, name: NAME}]` selects.
    public static func brokerIngressName(_ broker: String) -> String { "broker/\(broker)" }

    /// The Broker this is the ingress of; nil for a function.
    public var broker: (namespace: String, name: String)? {
        if case .broker(let namespace, let name) = workload { (namespace, name) } else { nil }
    }
}
