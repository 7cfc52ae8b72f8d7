import GatehouseCore

/// Where a function's traffic goes: one revision, or several by percent (Knative's `traffic`).
/// Built once per snapshot; a single-revision split (the common case) draws nothing.
public final class TrafficSplit: Sendable {
    public let destinations: [FunctionDestination]
    public let percents: [Int]
    /// Running totals of the percentages, to draw against.
    private let thresholds: [Int]

    public init(_ shares: [(destination: FunctionDestination, percent: Int)]) {
        let routed = shares.filter { $0.percent > 0 }
        destinations = routed.map(\.destination)
        percents = routed.map(\.percent)
        var total = 0
        thresholds = routed.map { total += $0.percent; return total }
    }

    /// `hello-00002`, or `hello-00001 90%, hello-00002 10%`: for explain.
    public var summary: String {
        guard destinations.count > 1 else { return destinations.first?.revision ?? "none" }
        return zip(destinations, percents).map { "\($0.revision) \($1)%" }.joined(separator: ", ")
    }

    public convenience init(_ destination: FunctionDestination) {
        self.init([(destination, 100)])
    }

    /// The revision with the largest share: what `explain`, which draws nothing, follows.
    public var heaviest: FunctionDestination? {
        zip(destinations, percents).max { $0.1 < $1.1 }?.0
    }

    /// A revision drawn by percent; nil when nothing is routed (every share is 0 %).
    public func pick() -> FunctionDestination? {
        guard destinations.count > 1 else { return destinations.first }
        let draw = Int.random(in: 0..<(thresholds.last ?? 1))
        let index = thresholds.firstIndex { draw < $0 } ?? destinations.count - 1
        return destinations[index]
    }
}

/// Every function's split and every subset's revision, for one snapshot: the destinations routing
/// hands to the invoker.
public struct RevisionTargets: Sendable {
    public let splits: [FunctionKey: TrafficSplit]
    /// Tagged revisions, by tag, per function.
    public let tagged: [FunctionKey: [String: FunctionDestination]]
    public let subsets: [SubsetKey: FunctionDestination]
    /// Every serving revision's destination.
    public let destinations: [RevisionKey: FunctionDestination]

    public init(functions: [FunctionSpec], routing: RevisionRouting, trustDomain: String, telemetry: TelemetryPolicies = .none) {
        // One destination per serving revision, shared by every way of reaching it; its telemetry
        // is resolved here, once, so a request only reads it.
        var destinations: [RevisionKey: FunctionDestination] = [:]
        for spec in routing.servingSpecs(current: functions) {
            destinations[spec.revisionKey] = FunctionDestination(spec: spec, trustDomain: trustDomain, telemetry: telemetry.policy(for: spec))
        }
        var splits: [FunctionKey: TrafficSplit] = [:]
        var tagged: [FunctionKey: [String: FunctionDestination]] = [:]
        for function in functions {
            let shares = routing.shares(of: function)
            splits[function.key] = TrafficSplit(shares.compactMap { share in destinations[share.revision].map { ($0, share.percent) } })
            for share in shares {
                if let tag = share.tag, let destination = destinations[share.revision] { tagged[function.key, default: [:]][tag] = destination }
            }
        }
        self.splits = splits
        self.tagged = tagged
        self.destinations = destinations
        subsets = routing.subsets.compactMapValues { destinations[$0] }
    }

    /// The split for a VirtualService destination: the subset's revision, else the function's split.
    public func split(for function: FunctionKey, subset: String?) -> TrafficSplit? {
        guard let subset else { return splits[function] }
        return subsets[SubsetKey(function: function, subset: subset)].map(TrafficSplit.init)
    }
}
