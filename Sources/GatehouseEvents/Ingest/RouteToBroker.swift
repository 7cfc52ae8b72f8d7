import GatehouseCore
import GatehouseStore

/// ④ Routing, for the broker ingress first: `POST http://broker-ingress.<domain>/NAMESPACE/BROKER`
/// (Knative's address shape) reaches the Broker's built-in workload, so the stages after routing —
/// peer authentication, JWT, AuthorizationPolicy, rate limits — apply to publishing as to any
/// call; every other host goes on to `next`, the function routing.
public struct RouteToBroker<Next: RequestStage>: RequestStage {
    public let next: Next
    let hosts: Set<String>
    let destinations: [BrokerRef: FunctionDestination]
    let directory: BrokerDirectory
    public var name: StageName { next.name }

    public init(directory: BrokerDirectory, telemetry: TelemetryPolicies, next: Next) {
        self.next = next
        self.directory = directory
        hosts = directory.hosts
        var destinations: [BrokerRef: FunctionDestination] = [:]
        for (ref, broker) in directory.brokers where !broker.isSourceSink {
            destinations[ref] = FunctionDestination(
                spec: broker.workload, trustDomain: directory.trustDomain, telemetry: telemetry.policy(for: broker.workload))
        }
        self.destinations = destinations
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard hosts.contains(record.host) else { return next.process(&record, headers: headers) }
        return route(&record)
    }

    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        guard hosts.contains(record.host) else { return next.explain(&record, headers: headers) }
        let verdict = route(&record)
        if let destination = record.destination, case .proceed = verdict {
            return StageExplanation(verdict, note: "host \(record.host) is the broker ingress; path names Broker \(destination.key.namespace)/\(destination.spec.broker?.name ?? "")")
        }
        return StageExplanation(verdict)
    }

    private func route(_ record: inout RequestRecord) -> StageVerdict {
        guard let broker = directory.broker(atPath: record.path.path), let destination = destinations[BrokerRef(namespace: broker.spec.namespace, name: broker.spec.name)] else {
            record.responseFlags.insert(.noRoute)
            return .reject(GatehouseError(.routeNotFound, detail: "no Broker at \(record.path.path) (the broker ingress serves /NAMESPACE/BROKER)"))
        }
        guard record.method == "POST" else {
            return .respond(GatewayReply(
                status: 405, headers: [("allow", "POST")], body: "", details: "the broker ingress takes POST only, not \(record.method)"))
        }
        record.destination = destination
        return .proceed
    }
}
