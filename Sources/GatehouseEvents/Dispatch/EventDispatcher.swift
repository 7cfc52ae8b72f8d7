import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseStore
import Logging
import NIOHTTP1

/// Delivers what Brokers accepted: leases due deliveries from the store (within each trigger's
/// gates), sends each to its subscriber in binary mode as the trigger's own mesh identity, and
/// settles it — delivered, retried after Knative's back-off, or dead-lettered — in the store.
/// At least once: a delivery is settled only after its answer, so one interrupted by a crash is
/// sent again after the restart (its lease released at start).
public final class EventDispatcher: Sendable {
    let broker: EventBroker
    let invoker: any EventInvoker
    /// The config now in force (read at each round; a deleted trigger's pending deliveries are dropped).
    let config: @Sendable () -> (directory: BrokerDirectory, rateLimits: [RateLimitPolicySpec])
    /// This node's name: whose leases are whose.
    let owner: String
    let logger: Logger
    let gates = TriggerGates()

    /// A delivery attempt's timeout to a URI when the trigger's `delivery.timeout` says nothing
    /// (to a Function: the function's own `timeout`).
    public static let defaultTimeout = Duration.seconds(60)
    /// Longest a round waits when nothing wakes it: how soon work another process or node stored
    /// (a shared PostgreSQL queue: another node's accepts, a dead node's expired leases) is seen.
    static let idlePoll = Duration.seconds(1)

    public init(
        broker: EventBroker, invoker: any EventInvoker, owner: String, logger: Logger,
        config: @escaping @Sendable () -> (directory: BrokerDirectory, rateLimits: [RateLimitPolicySpec])
    ) {
        self.broker = broker
        self.invoker = invoker
        self.owner = owner
        self.logger = logger
        self.config = config
    }

    /// Runs until the task is cancelled. An attempt in flight then is cut, not failed: its
    /// delivery is due again at the next start (`releaseLeases`), or at once for the other nodes
    /// of a shared queue.
    public func run() async {
        do {
            try await broker.store.releaseLeases(owner: owner)
        } catch {
            logger.error("events: could not release this node's leases at start", metadata: ["error": "\(error)"])
        }
        var knownTriggers: Set<TriggerRef>?
        var lastBacklog = ContinuousClock.now - Self.backlogInterval
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let (directory, rateLimits) = config()
                let triggers = Set(directory.triggers.keys)
                if knownTriggers != triggers {
                    // Only what this node saw deleted: on a shared store another node may already
                    // accept for a trigger this node's config does not hold yet (so nothing is
                    // dropped at start there); on one node, what it does not know at start was
                    // deleted while it was down. Dropped again at the next round if it failed.
                    let shared = broker.store.sharedAcrossNodes
                    let removed = knownTriggers.map { $0.subtracting(triggers) } ?? []
                    var done = true
                    if !shared, knownTriggers == nil || !removed.isEmpty {
                        done = (try? await broker.store.dropDeliveries(keeping: triggers)) != nil
                    } else if shared, !removed.isEmpty {
                        done = (try? await broker.store.dropDeliveries(of: removed)) != nil
                    }
                    if done { knownTriggers = triggers }
                }
                if ContinuousClock.now - lastBacklog >= Self.backlogInterval {
                    lastBacklog = .now
                    await reportBacklog(directory)
                }
                let slots = await gates.slots(for: directory, policies: rateLimits, now: broker.now())
                let leased: [LeasedDelivery]
                do {
                    leased = slots.isEmpty ? [] : try await broker.store.lease(owner: owner, now: broker.now(), leaseFor: leaseTime(directory), slots: slots)
                } catch {
                    logger.error("events: leasing deliveries failed", metadata: ["error": "\(error)"])
                    leased = []
                }
                for delivery in leased {
                    await gates.started(delivery.trigger)
                    group.addTask { await self.deliver(delivery, directory: directory) }
                }
                // Only triggers that may start a delivery count: a saturated one is woken by a settle,
                // a paused one by its breaker's resume time.
                if leased.isEmpty { await broker.wakeup.wait(timeout: await idleWait(triggers: Set(slots.keys))) }
            }
        }
        // Stopping: attempts cut on the way out are due again at once — for the other nodes of a
        // shared queue too, rather than when their leases expire.
        if broker.store.sharedAcrossNodes { _ = try? await broker.store.releaseLeases(owner: owner) }
    }

    /// How often the queue gauges are refreshed from the store.
    static let backlogInterval = Duration.seconds(5)

    /// The queue depth and the oldest undelivered event's age per trigger (0 for an empty queue).
    private func reportBacklog(_ directory: BrokerDirectory) async {
        guard let backlog = try? await broker.store.backlog() else { return }
        let now = broker.now()
        for (ref, trigger) in directory.triggers {
            let entry = backlog[ref]
            broker.metrics.backlog(
                trigger: ref, broker: trigger.broker, depth: entry?.count ?? 0,
                oldestAgeSeconds: entry?.oldestAcceptedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        }
    }

    /// Long enough for the slowest trigger's attempt, so a live node's lease never lapses mid-attempt.
    private func leaseTime(_ directory: BrokerDirectory) -> Duration {
        let longest = directory.triggers.values.flatMap { trigger in
            ([trigger.spec.subscriber] + (trigger.delivery.deadLetterSink.map { [$0] } ?? [])).map {
                directory.attemptTimeout(trigger.delivery, to: $0, fallback: Self.defaultTimeout)
            }
        }.max() ?? Self.defaultTimeout
        return longest * 2 + .seconds(30)
    }

    /// Until the next due delivery or breaker resumption, at most `idlePoll`.
    private func idleWait(triggers: Set<TriggerRef>) async -> Duration {
        var wait = Self.idlePoll
        // A time from a shared database may be anything (NaN, infinite): only a sane one shortens the wait.
        if !triggers.isEmpty, let due = try? await broker.store.nextDue(for: triggers), case let left = due.timeIntervalSince(broker.now()),
           left.isFinite, left < Self.idlePoll.timeInterval {
            wait = min(wait, .milliseconds(max(1, Int((left * 1000).rounded(.up)))))
        }
        if let resume = await gates.nextResume() {
            wait = min(wait, .milliseconds(max(1, Int((resume.timeIntervalSince(broker.now()) * 1000).rounded(.up)))))
        }
        return wait
    }

    private func deliver(_ delivery: LeasedDelivery, directory: BrokerDirectory) async {
        guard let trigger = directory.triggers[delivery.trigger] else {
            await settle(delivery, .dropped(reason: "the trigger was deleted"), succeeded: true, directory: directory)
            return
        }
        let destination = delivery.phase == .subscriber ? trigger.spec.subscriber : trigger.delivery.deadLetterSink
        guard let destination else {
            await settle(delivery, .dropped(reason: "the dead-letter sink was removed"), succeeded: true, directory: directory)
            return
        }
        let (host, path) = destination.address(domain: directory.domain)
        broker.metrics.processing(trigger: delivery.trigger, broker: delivery.broker, seconds: broker.now().timeIntervalSince(delivery.acceptedAt))
        var event = delivery.event
        let ttl = event.extensions.removeValue(forKey: EventBroker.ttlExtension).flatMap { Int($0) } ?? EventBroker.defaultTTL
        var headers = event.binaryModeHeaders
        if let traceparent = event.extensions["traceparent"] { headers.append(("traceparent", traceparent)) }
        if let tracestate = event.extensions["tracestate"] { headers.append(("tracestate", tracestate)) }
        headers.append(("prefer", "reply"))
        let started = ContinuousClock.now
        let answer = await invoker.send(OutgoingCall(
            host: host, path: path, headers: headers, body: event.data ?? [], identity: trigger.identity,
            timeout: directory.attemptTimeout(trigger.delivery, to: destination, fallback: Self.defaultTimeout)))
        // Shutting down: the attempt was cut, not failed. Left leased, it is due again at the next start.
        guard !Task.isCancelled else { return }
        broker.metrics.dispatched(
            trigger: delivery.trigger, broker: delivery.broker, eventType: event.type, status: answer.status ?? 0,
            seconds: (ContinuousClock.now - started).timeInterval)

        if let status = answer.status, (200..<300).contains(status) {
            if delivery.phase == .subscriber, case .response(_, let replyHeaders, let body) = answer,
               let why = await acceptReply(headers: replyHeaders, body: body, ttl: ttl - 1, trigger: trigger, directory: directory)
            {
                // The reply could not be stored (the store at its bound): the delivery is tried
                // again later rather than its reply lost, as Knative retries it.
                let wait = trigger.delivery.backoff(beforeRetry: delivery.attempts + 1)
                await settle(delivery, .retry(at: broker.now().addingTimeInterval(wait.timeInterval), status: status, reason: why), succeeded: true, directory: directory)
                return
            }
            await settle(delivery, .delivered(status: status), succeeded: true, directory: directory)
            return
        }
        let reason = Self.describe(answer)
        // For the breaker, only a subscriber that is down or overloaded fails (what Knative
        // retries); one that answers "not this event" (a 400, a 403) is alive.
        let subscriberFailed = trigger.delivery.isRetryable(status: answer.status)
        // `attempts` counts the ones before this; this one is number attempts + 1.
        if trigger.delivery.shouldRetry(afterAttempt: delivery.attempts + 1, status: answer.status) {
            let wait = trigger.delivery.backoff(beforeRetry: delivery.attempts + 1, retryAfter: Self.retryAfter(answer))
            await settle(delivery, .retry(at: broker.now().addingTimeInterval(wait.timeInterval), status: answer.status, reason: reason), succeeded: !subscriberFailed, directory: directory)
            return
        }
        guard delivery.phase == .subscriber else {
            logger.warning("events: the dead-letter sink did not take an event; it is dropped", metadata: [
                "trigger": "\(delivery.trigger)", "event_id": "\(event.id)", "reason": "\(reason)"])
            await settle(delivery, .dropped(reason: "dead-letter sink: \(reason)"), succeeded: !subscriberFailed, directory: directory)
            return
        }
        var dead = delivery.event
        dead.extensions.removeValue(forKey: EventBroker.ttlExtension)
        switch answer {
        case .response(_, _, let body): dead = dead.deadLettered(destination: "http://\(host)\(path)", status: answer.status, responseBody: body)
        case .failed(let why): dead = dead.deadLettered(destination: "http://\(host)\(path)", status: nil, responseBody: Array(why.utf8))
        }
        broker.metrics.deadLettered(trigger: delivery.trigger, broker: delivery.broker)
        await settle(
            delivery, .deadLetter(event: dead, status: answer.status, reason: reason, toSink: trigger.delivery.deadLetterSink != nil),
            succeeded: !subscriberFailed, directory: directory)
    }

    /// A subscriber's reply that is a CloudEvent goes back into the broker, one hop older — one
    /// event (binary or structured mode; a batch is not a reply, as Knative's broker reads it), sent
    /// as the trigger: the Broker's EventPolicies judge it like any publisher's. A reason only when
    /// it should have been stored and could not be (then why); nil otherwise.
    private func acceptReply(
        headers: [(name: String, value: String)], body: [UInt8], ttl: Int, trigger: BrokerDirectory.Trigger, directory: BrokerDirectory
    ) async -> String? {
        let httpHeaders = HTTPHeaders(headers)
        guard CloudEvent.isEvent(headers: httpHeaders), let brokerEntry = directory.brokers[trigger.broker] else { return nil }
        guard CloudEventDecoder.mediaType(httpHeaders.first(name: "content-type") ?? "") != "application/cloudevents-batch+json" else {
            logger.notice("events: a batch in reply was ignored (a reply is one event)", metadata: ["trigger": "\(trigger.ref)"])
            return nil
        }
        guard ttl > 0 else {
            logger.notice("events: a reply was dropped: its TTL ran out (a loop of triggers?)", metadata: ["trigger": "\(trigger.ref)"])
            return nil
        }
        switch broker.decoder.decode(headers: httpHeaders, body: body) {
        case .success(var events):
            for index in events.indices { events[index].extensions[EventBroker.ttlExtension] = String(ttl) }
            let principal = trigger.identity.hasPrefix("spiffe://") ? String(trigger.identity.dropFirst("spiffe://".count)) : trigger.identity
            switch await broker.accept(events, to: brokerEntry, in: directory, from: .caller(names: [trigger.identity, principal]), traceparent: nil) {
            case .success:
                return nil
            case .failure(.denied(let decision)):
                logger.notice("events: an EventPolicy refuses the trigger's reply; dropped", metadata: ["trigger": "\(trigger.ref)", "reason": "\(decision.reason)"])
                return nil
            case .failure(.notStored(let error)):
                return "its reply could not be stored: \(error.detail)"
            }
        case .failure(let error):
            logger.notice("events: a reply that looked like a CloudEvent was not one; ignored", metadata: ["trigger": "\(trigger.ref)", "reason": "\(error.reason)"])
            return nil
        }
    }

    private func settle(_ delivery: LeasedDelivery, _ outcome: DeliveryOutcome, succeeded: Bool, directory: BrokerDirectory) async {
        do {
            try await broker.store.settle(delivery.id, owner: owner, outcome: outcome, now: broker.now())
        } catch {
            // Left leased: delivered again once the lease lapses (at least once).
            logger.error("events: settling a delivery failed", metadata: ["trigger": "\(delivery.trigger)", "error": "\(error)"])
        }
        switch await gates.finished(delivery.trigger, succeeded: succeeded, now: broker.now()) {
        case .paused(let until, let pause)?:
            broker.metrics.paused(trigger: delivery.trigger, broker: delivery.broker, true)
            logger.warning("events: a trigger's subscriber keeps failing; its deliveries are paused", metadata: [
                "trigger": "\(delivery.trigger)", "pause": "\(pause)", "until": "\(until)"])
        case .resumed?:
            broker.metrics.paused(trigger: delivery.trigger, broker: delivery.broker, false)
            logger.notice("events: a paused trigger's subscriber answers again; deliveries resume", metadata: ["trigger": "\(delivery.trigger)"])
        case nil:
            break
        }
        broker.wakeup.signal()
    }

    /// A 429 or 503's `Retry-After` in seconds (the HTTP-date form is not honoured).
    static func retryAfter(_ answer: CallAnswer) -> Duration? {
        guard case .response(let status, let headers, _) = answer, status == 429 || status == 503,
              let value = headers.first(where: { $0.name.lowercased() == "retry-after" })?.value, let seconds = Int(value), seconds >= 0
        else { return nil }
        return .seconds(seconds)
    }

    static func describe(_ answer: CallAnswer) -> String {
        switch answer {
        case .response(let status, _, _): "the subscriber answered \(status)"
        case .failed(let reason): reason
        }
    }
}

extension EventDispatcher {
    /// A trigger's gates as `describe trigger` shows them.
    public struct GateState: Sendable {
        public var inflight: Int
        public var concurrency: Int
        public var paused: Bool
        public var consecutiveFailures: Int
        /// Seconds until a paused trigger is tried again.
        public var resumesIn: TimeInterval?
    }

    /// Nil until the dispatcher has seen the trigger.
    public func state(of trigger: TriggerRef) async -> GateState? {
        guard let (inflight, concurrency, breaker) = await gates.snapshot(trigger) else { return nil }
        let now = broker.now()
        return GateState(
            inflight: inflight, concurrency: concurrency, paused: breaker.name != "closed", consecutiveFailures: breaker.consecutiveFailures,
            resumesIn: breaker.resumesAt.map { max(0, $0.timeIntervalSince(now)) })
    }
}
