import GatehouseCore

/// What only the whole configuration reveals about Knative resources (read with `whole: true`). Knative accepts a Trigger
/// whose Broker or subscriber does not exist yet (it is simply not ready), so these are notices,
/// not errors: applying the missing piece later makes it work.
extension SnapshotBuilder {
    func eventNotices(mesh: MeshSpec) -> [ConfigNotice] {
        var notices: [ConfigNotice] = []
        func note(_ location: SourceLocation?, _ message: String) {
            notices.append(ConfigNotice(location: location ?? SourceLocation(file: "", line: 0, column: 0), message: message))
        }
        let brokerNames = Set(brokers.map { "\($0.namespace)/\($0.name)" })
        for trigger in triggers {
            if !brokerNames.contains("\(trigger.namespace)/\(trigger.broker)") {
                note(trigger.source, "Trigger \(trigger.reference): Broker \"\(trigger.broker)\" does not exist in namespace \(trigger.namespace); the Trigger is not ready and receives no events until it does")
            }
            if let problem = missing(trigger.subscriber, mesh: mesh) {
                note(trigger.source, "Trigger \(trigger.reference): subscriber \(problem)")
            }
            if let sink = trigger.delivery?.deadLetterSink, let problem = missing(sink, mesh: mesh) {
                note(trigger.source, "Trigger \(trigger.reference): deadLetterSink \(problem)")
            }
        }
        for broker in brokers {
            if let sink = broker.delivery?.deadLetterSink, let problem = missing(sink, mesh: mesh) {
                note(broker.source, "Broker \(broker.reference): deadLetterSink \(problem)")
            }
        }
        for source in pingSources {
            switch source.sink {
            case .broker(let namespace, let name) where !brokerNames.contains("\(namespace)/\(name)"):
                note(source.source, "PingSource \(source.reference): sink Broker \"\(name)\" does not exist in namespace \(namespace); its events are not sent until it does")
            case .destination(let destination):
                if let problem = missing(destination, mesh: mesh) { note(source.source, "PingSource \(source.reference): sink \(problem)") }
            default:
                break
            }
        }
        for policy in eventPolicies {
            for case .broker(let name) in policy.to where !brokerNames.contains("\(policy.namespace)/\(name)") {
                note(policy.source, "EventPolicy \(policy.reference): Broker \"\(name)\" does not exist in namespace \(policy.namespace)")
            }
        }
        let triggerNames = Set(triggers.map { "\($0.namespace)/\($0.name)" })
        for policy in rateLimits {
            for name in policy.triggers where !triggerNames.contains("\(policy.namespace)/\(name)") {
                note(policy.source, "RateLimitPolicy \(policy.reference): Trigger \"\(name)\" does not exist in namespace \(policy.namespace); the policy limits nothing for it")
            }
        }
        return notices
    }

    /// Why `destination` reaches nothing Gatehouse serves today, or nil when it does.
    private func missing(_ destination: EventDestination, mesh: MeshSpec) -> String? {
        switch destination.target {
        case .function(let namespace, let name, _):
            guard !functions.contains(where: { $0.namespace == namespace && $0.name == name }) else { return nil }
            return "Function \(namespace)/\(name) does not exist; deliveries to it fail (and are retried) until it does"
        case .uri(let host, _):
            let served = functions.contains { $0.isNamed(by: host, in: $0.namespace) || host == "\($0.name).\($0.namespace).\(mesh.domain)" }
                || virtualServices.contains { $0.hosts.contains(host) }
            return served ? nil : "http://\(host) is not a host Gatehouse serves (a function's NAME.NAMESPACE.\(mesh.domain), or a VirtualService host); deliveries to it fail"
        }
    }
}
