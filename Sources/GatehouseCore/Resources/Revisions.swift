/// One immutable revision of a function: its key plus the revision number (the Function's
/// generation when that spec was applied). Knative names it `NAME-0000N`.
public struct RevisionKey: Hashable, Sendable, CustomStringConvertible {
    public var function: FunctionKey
    public var number: Int

    public init(function: FunctionKey, number: Int) {
        self.function = function
        self.number = number
    }

    public var name: String { FunctionSpec.revisionName(function.name, number: number) }
    public var description: String { "\(function.namespace)/\(name)" }
}

/// Knative's `spec.traffic` entry as written: a revision (by name, or the latest), its share, a tag.
public struct TrafficTarget: Hashable, Sendable {
    public var revisionName: String?
    /// `latestRevision: true`: whichever revision is newest, now and after later changes.
    public var latestRevision: Bool
    public var percent: Int
    /// Gives the revision its own host, `TAG-NAME.NAMESPACE.<domain>`.
    public var tag: String?
    public var source: SourceLocation?

    public init(revisionName: String? = nil, latestRevision: Bool = false, percent: Int, tag: String? = nil, source: SourceLocation? = nil) {
        self.revisionName = revisionName
        self.latestRevision = latestRevision
        self.percent = percent
        self.tag = tag
        self.source = source
    }
}

/// A traffic target resolved to a stored revision.
public struct TrafficShare: Hashable, Sendable {
    public var revision: RevisionKey
    public var percent: Int
    public var tag: String?
    /// Written as `latestRevision: true`.
    public var latest: Bool

    public init(revision: RevisionKey, percent: Int, tag: String? = nil, latest: Bool = false) {
        self.revision = revision
        self.percent = percent
        self.tag = tag
        self.latest = latest
    }
}

/// A VirtualService destination's `subset` of a function, by the DestinationRule subset's name.
public struct SubsetKey: Hashable, Sendable {
    public var function: FunctionKey
    public var subset: String

    public init(function: FunctionKey, subset: String) {
        self.function = function
        self.subset = subset
    }
}

/// Which revisions serve, and how traffic reaches them: resolved against the stored revisions
/// when a config is applied. Empty (the default) means every function's current spec takes all
/// of its traffic, which is what a config read from files alone can know.
public struct RevisionRouting: Hashable, Sendable {
    /// The revisions that receive traffic — by percent, tag or subset — each with its own spec.
    /// Only these run instances.
    public var serving: [RevisionKey: FunctionSpec]
    /// Each function's traffic split; a function missing here sends all traffic to its current spec.
    public var traffic: [FunctionKey: [TrafficShare]]
    /// The revision each DestinationRule subset a VirtualService names selects.
    public var subsets: [SubsetKey: RevisionKey]

    public init(serving: [RevisionKey: FunctionSpec] = [:], traffic: [FunctionKey: [TrafficShare]] = [:], subsets: [SubsetKey: RevisionKey] = [:]) {
        self.serving = serving
        self.traffic = traffic
        self.subsets = subsets
    }

    /// The specs that run, given the functions' current specs: the serving revisions, or, before
    /// resolution, every current spec.
    public func servingSpecs(current functions: [FunctionSpec]) -> [FunctionSpec] {
        guard !serving.isEmpty else { return functions }
        return serving.values.sorted { ($0.namespace, $0.name, $0.generation) < ($1.namespace, $1.name, $1.generation) }
    }

    /// A function's split: its resolved shares, or all traffic to `current`.
    public func shares(of current: FunctionSpec) -> [TrafficShare] {
        traffic[current.key] ?? [TrafficShare(revision: current.revisionKey, percent: 100, latest: true)]
    }
}
