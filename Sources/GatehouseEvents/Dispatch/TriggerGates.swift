import Foundation
import GatehouseCore
import GatehouseProtection
import GatehouseStore

/// What holds each Trigger back, so one runaway trigger cannot take the node with it: at most
/// `concurrency` deliveries in flight, a token bucket when a RateLimitPolicy targets it, and its
/// circuit breaker (`TriggerBreaker`). Owned by the dispatcher; kept across config changes for
/// the triggers that remain.
actor TriggerGates {
    struct Gate {
        var inflight = 0
        var concurrency: Int
        var bucket: TokenBuckets?
        var breaker = TriggerBreaker()
        /// The breaker allowed one probe this round.
        var probing = false
    }

    /// Deliveries in flight per trigger when no RateLimitPolicy's `maxConcurrentRequests` says otherwise.
    static let defaultConcurrency = 32

    private var gates: [TriggerRef: Gate] = [:]

    /// How many deliveries each trigger may start now; a paused one is absent.
    func slots(for directory: BrokerDirectory, policies: [RateLimitPolicySpec], now: Date) -> [TriggerRef: Int] {
        var slots: [TriggerRef: Int] = [:]
        var kept: [TriggerRef: Gate] = [:]
        for (ref, trigger) in directory.triggers {
            var gate = gates[ref] ?? Gate(concurrency: Self.defaultConcurrency)
            let policy = policies.first { $0.namespace == ref.namespace && $0.triggers.contains(trigger.spec.name) }
            gate.concurrency = policy?.maxConcurrentRequests ?? Self.defaultConcurrency
            if let spec = policy?.tokenBucket {
                if gate.bucket?.spec != spec { gate.bucket = TokenBuckets(spec) }
            } else {
                gate.bucket = nil
            }
            var free = max(0, gate.concurrency - gate.inflight)
            if let bucket = gate.bucket { free = min(free, bucket.peek(ref.description).remaining) }
            if gate.probing {
                // A probe was allowed last round but nothing was leased for it: another may go.
                gate.breaker.probeAbandoned()
                gate.probing = false
            }
            switch gate.breaker.admission(now: now) {
            case .deliver: break
            case .probe:
                free = min(free, 1)
                gate.probing = free > 0
            case .paused: free = 0
            }
            if free > 0 { slots[ref] = free }
            kept[ref] = gate
        }
        gates = kept
        return slots
    }

    /// A delivery leased for `trigger` starts.
    func started(_ trigger: TriggerRef) {
        guard var gate = gates[trigger] else { return }
        gate.inflight += 1
        _ = gate.bucket?.take(trigger.description)
        gate.breaker.started()
        gate.probing = false
        gates[trigger] = gate
    }

    /// It ended; returns what the breaker did (paused, resumed), if anything.
    func finished(_ trigger: TriggerRef, succeeded: Bool, now: Date) -> TriggerBreaker.Action? {
        guard var gate = gates[trigger] else { return nil }
        gate.inflight -= 1
        let action = succeeded ? gate.breaker.succeeded(now: now) : gate.breaker.failed(now: now)
        gates[trigger] = gate
        return action
    }

    /// For `describe trigger`.
    func snapshot(_ trigger: TriggerRef) -> (inflight: Int, concurrency: Int, breaker: TriggerBreaker.Status)? {
        gates[trigger].map { ($0.inflight, $0.concurrency, $0.breaker.status) }
    }

    /// When the soonest paused trigger may be tried again.
    func nextResume() -> Date? {
        gates.values.compactMap { $0.breaker.status.resumesAt }.min()
    }
}
