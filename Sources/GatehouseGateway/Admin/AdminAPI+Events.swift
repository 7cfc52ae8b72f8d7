import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseEvents
import GatehouseStore
import Hummingbird

/// The event routes: `GET /api/v1/eventing?kind=Broker|Trigger|PingSource` (the resources as
/// `kubectl get -o json` prints Knative's, with Gatehouse's `status`), `GET /api/v1/triggers/NS/NAME`
/// (what `describe trigger` shows), `GET /api/v1/dead-letters` and `GET /api/v1/calls/ID`.
extension AdminAPI {
    func registerEvents(on api: RouterGroup<AdminRequestContext>) {
        api.get("eventing") { request, _ in await eventingResources(request) }
        api.get("triggers/:namespace/:name") { _, context in
            await trigger(namespace: context.parameters.get("namespace") ?? "", name: context.parameters.get("name") ?? "")
        }
        api.get("dead-letters") { request, _ in await deadLetters(request) }
        api.get("calls/:id") { _, context in await asyncCall(context.parameters.get("id") ?? "") }
    }

    func eventingResources(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        guard let kind = query["kind"].map(String.init), ["Broker", "Trigger", "PingSource", "EventPolicy"].contains(kind) else {
            return Self.error(.badRequest, code: "bad_request", "kind= is Broker, Trigger, PingSource or EventPolicy")
        }
        let stored: [StoredResource]
        do { stored = try await store.resources() } catch { return Self.error(.serviceUnavailable, code: "store_unavailable", "\(error)") }
        let snapshot = await controller.snapshot
        let status = EventingStatus(snapshot: snapshot, ingressURL: "http://\(BrokerDirectory.ingressHost(domain: snapshot.mesh.domain)):\(ingressPort)")
        var objects: [Any] = []
        for resource in stored where resource.document.key.kind == kind {
            let key = resource.document.key
            if let namespace = query["namespace"], key.namespace != namespace { continue }
            if let name = query["name"], key.name != name { continue }
            guard var object = DocumentJSON.object(fromYAML: resource.document.text) else { continue }
            var metadata = object["metadata"] as? [String: Any] ?? [:]
            metadata["namespace"] = key.namespace
            metadata["generation"] = resource.generation
            metadata["creationTimestamp"] = ISO8601DateFormatter().string(from: resource.appliedAt)
            object["metadata"] = metadata
            object["status"] = status.status(of: key, appliedAt: resource.appliedAt)
            objects.append(object)
        }
        let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("[]".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data + [0x0A])))
    }

    func trigger(namespace: String, name: String) async -> Response {
        guard let events else { return Self.error(.serviceUnavailable, code: "unavailable", "events are not served by this process") }
        let snapshot = await controller.snapshot
        guard let spec = snapshot.triggers.first(where: { $0.namespace == namespace && $0.name == name }) else {
            return Self.error(.notFound, code: "not_found", "Trigger \(namespace)/\(name) not found")
        }
        let ref = TriggerRef(namespace: namespace, name: name)
        let history: DeliveryHistory
        let backlog: Backlog?
        do {
            history = try await events.broker.store.deliveryHistory(of: ref, limit: 10)
            backlog = try await events.broker.store.backlog()[ref]
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", "\(error)")
        }
        let directory = BrokerDirectory(snapshot: snapshot)
        let gate = await dispatcher?.state(of: ref)
        let formatter = ISO8601DateFormatter()
        return Self.json(.ok, AdminWire.TriggerReport(
            namespace: namespace, name: name, broker: spec.broker, ready: directory.triggers[ref] != nil,
            filter: EventingStatus.describeFilter(spec), subscriber: spec.subscriber.description,
            deadLetterSink: directory.triggers[ref]?.delivery.deadLetterSink?.description,
            identity: directory.triggers[ref]?.identity ?? "",
            delivered: history.delivered, retried: history.retried, deadLettered: history.deadLettered, pending: backlog?.count ?? history.pending,
            oldestPending: backlog?.oldestAcceptedAt.map { formatter.string(from: $0) },
            inflight: gate?.inflight ?? 0, concurrency: gate?.concurrency ?? 0,
            paused: gate?.paused ?? false, consecutiveFailures: gate?.consecutiveFailures ?? 0,
            resumesAt: gate?.resumesIn.map { formatter.string(from: Date().addingTimeInterval($0)) },
            recent: history.recent.map { outcome in
                .init(at: formatter.string(from: outcome.at), eventId: outcome.eventID, eventType: outcome.eventType, result: outcome.result,
                      status: outcome.status, reason: outcome.reason)
            }))
    }

    func deadLetters(_ request: Request) async -> Response {
        guard let events else { return Self.error(.serviceUnavailable, code: "unavailable", "events are not served by this process") }
        let query = request.uri.queryParameters
        var broker: BrokerRef?
        if let text = query["broker"] {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            broker = parts.count == 2 ? BrokerRef(namespace: parts[0], name: parts[1]) : BrokerRef(namespace: FunctionSpec.defaultNamespace, name: String(text))
        }
        let limit = query["limit"].flatMap { Int(String($0)) }.map { min(max($0, 1), 1_000) } ?? 50
        do {
            let formatter = ISO8601DateFormatter()
            return Self.json(.ok, try await events.broker.store.deadLetters(broker: broker, limit: limit).map { dead in
                AdminWire.DeadLetter(
                    at: formatter.string(from: dead.at), broker: dead.broker.description, trigger: dead.trigger.description, eventId: dead.event.id,
                    eventType: dead.event.type, eventSource: dead.event.source, status: dead.status, reason: dead.reason, sentToSink: dead.sentToSink,
                    extensions: dead.event.extensions)
            })
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", "\(error)")
        }
    }

    func asyncCall(_ id: String) async -> Response {
        guard let events else { return Self.error(.serviceUnavailable, code: "unavailable", "async calls are not served by this process") }
        let state: AsyncCallState?
        do { state = try await events.broker.store.call(id, now: Date()) } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", "\(error)")
        }
        guard let state else { return Self.error(.notFound, code: "not_found", "no async call \(id) (unknown, or its result expired)") }
        switch state {
        case .pending: return Self.json(.ok, AdminWire.AsyncCallReport(id: id, state: "pending"))
        case .running: return Self.json(.ok, AdminWire.AsyncCallReport(id: id, state: "running"))
        case .done(let result):
            return Self.json(.ok, AdminWire.AsyncCallReport(
                id: id, state: "done", status: result.status, headers: result.headers.map { [$0.name, $0.value] },
                body: Data(result.body).base64EncodedString(), completedAt: ISO8601DateFormatter().string(from: result.completedAt)))
        }
    }
}

/// Knative-style `status` for Brokers, Triggers and PingSources: `Ready` and why not, the
/// broker's address, the subscriber and sink URIs.
struct EventingStatus {
    let snapshot: ConfigSnapshot
    let directory: BrokerDirectory
    let ingressURL: String

    init(snapshot: ConfigSnapshot, ingressURL: String) {
        self.snapshot = snapshot
        directory = BrokerDirectory(snapshot: snapshot)
        self.ingressURL = ingressURL
    }

    func status(of key: ResourceKey, appliedAt: Date) -> [String: Any] {
        let time = ISO8601DateFormatter().string(from: appliedAt)
        func ready(_ ok: Bool, reason: String? = nil, message: String? = nil) -> [[String: Any]] {
            var condition: [String: Any] = ["type": "Ready", "status": ok ? "True" : "False", "lastTransitionTime": time]
            if let reason { condition["reason"] = reason }
            if let message { condition["message"] = message }
            return [condition]
        }
        switch key.kind {
        case "Broker":
            let url = "\(ingressURL)/\(key.namespace)/\(key.name)"
            return ["address": ["url": url], "addresses": [["url": url]], "conditions": ready(true)]
        case "Trigger":
            guard let trigger = snapshot.triggers.first(where: { $0.namespace == key.namespace && $0.name == key.name }) else { return [:] }
            guard directory.brokers[BrokerRef(namespace: key.namespace, name: trigger.broker)] != nil else {
                return ["conditions": ready(false, reason: "BrokerDoesNotExist", message: "Broker \"\(trigger.broker)\" does not exist")]
            }
            guard resolves(trigger.subscriber) else {
                return ["conditions": ready(false, reason: "SubscriberResolveFailed", message: "\(trigger.subscriber.description) does not exist")]
            }
            return ["subscriberUri": uri(trigger.subscriber), "conditions": ready(true)]
        case "PingSource":
            guard let source = snapshot.pingSources.first(where: { $0.namespace == key.namespace && $0.name == key.name }) else { return [:] }
            switch source.sink {
            case .broker(let namespace, let name):
                guard directory.brokers[BrokerRef(namespace: namespace, name: name)] != nil else {
                    return ["conditions": ready(false, reason: "NotFound", message: "Broker \(namespace)/\(name) does not exist")]
                }
                return ["sinkUri": "\(ingressURL)/\(namespace)/\(name)", "conditions": ready(true)]
            case .destination(let destination):
                guard resolves(destination) else { return ["conditions": ready(false, reason: "NotFound", message: "\(destination.description) does not exist")] }
                return ["sinkUri": uri(destination), "conditions": ready(true)]
            }
        default:
            return ["conditions": ready(true)]
        }
    }

    private func resolves(_ destination: EventDestination) -> Bool {
        if case .function(let namespace, let name, _) = destination.target {
            return snapshot.functions.contains { $0.namespace == namespace && $0.name == name }
        }
        return true
    }

    private func uri(_ destination: EventDestination) -> String {
        let (host, path) = destination.address(domain: snapshot.mesh.domain)
        return "http://\(host)\(path)"
    }

    static func describeFilter(_ trigger: TriggerSpec) -> String {
        var parts = trigger.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.isEmpty ? "*" : $0.value)" }
        parts += trigger.filters.map { "\($0)" }
        return parts.isEmpty ? "(every event)" : parts.joined(separator: ", ")
    }
}
